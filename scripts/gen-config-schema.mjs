// Writes config.schema.json (the JSON Schema of `gatehouse serve --config` files, for editors) and
// docs/configuration.md (every key) from the configuration declaration, src/config/schema.ts, as
// compiled into dist/: run `npm run build` first (npm run gen:config does both).
// test/unit/config-schema-file.test.ts fails when the committed files are stale.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist/config');
if (!existsSync(path.join(dist, 'reference.js'))) {
  console.error('dist/config/reference.js is missing: run "npm run build" first');
  process.exit(1);
}
const { CONFIG_SCHEMA_FILE, configSchemaText } = await import(path.join(dist, 'json-schema.js'));
const { configReferenceMarkdown } = await import(path.join(dist, 'reference.js'));
writeFileSync(path.join(root, CONFIG_SCHEMA_FILE), configSchemaText());
writeFileSync(path.join(root, 'docs/configuration.md'), configReferenceMarkdown());
console.log(`wrote ${CONFIG_SCHEMA_FILE} and docs/configuration.md`);
