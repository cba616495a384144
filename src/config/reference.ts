/**
 * docs/configuration.md, generated from the configuration declaration (config/schema.ts) by
 * scripts/gen-config-schema.mjs, with config.schema.json; test/unit/config-schema-file.test.ts
 * fails when either is stale.
 */
import { CONFIG_SCHEMA_FILE } from './json-schema.js';
import { CONFIG_KEYS, envName, flagName, type KeySpec } from './schema.js';

/** The value a key takes, as a reader would write it. */
function kind(spec: KeySpec): string {
  switch (spec.type) {
    case 'integer':
      return `integer ${spec.min}–${spec.max}`;
    case 'enum':
      return spec.values.map((v) => `\`${v}\``).join(' \\| ');
    case 'list':
      return 'list of strings';
    case 'address':
      return spec.allowOff ? 'address or `off`' : 'address';
    case 'path':
      return 'string (optional)';
    case 'string':
      return spec.numberAsText ? 'string or integer' : 'string';
    case 'boolean':
      return 'boolean';
  }
}

function defaultText(spec: KeySpec): string {
  if (spec.default === undefined) return spec.type === 'path' ? 'none' : '(required)';
  if (Array.isArray(spec.default)) return spec.default.length === 0 ? 'none' : `\`${spec.default.join(',')}\``;
  return `\`${String(spec.default)}\``;
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('\n', ' ');

/** The whole of docs/configuration.md. */
export function configReferenceMarkdown(): string {
  const rows = (Object.entries(CONFIG_KEYS) as [string, KeySpec][]).map(
    ([key, spec]) => `| \`${key}\` | \`--${flagName(key)}\`<br>\`${envName(key)}\` | ${kind(spec)} | ${defaultText(spec)} | ${cell(spec.help)} |`,
  );
  return `# Configuration reference

<!-- Generated from src/config/schema.ts by scripts/gen-config-schema.mjs: edit the declaration, then run
     "npm run build && node scripts/gen-config-schema.mjs". test/unit/config-schema-file.test.ts fails when this is stale. -->

Every setting of \`gatehouse serve\`, in the order of its declaration. Each can be a key in the YAML
file (\`--config\`), an environment variable or a flag; flags win over the environment, which wins
over the file. Lists are YAML lists in the file and comma-separated in flags and environment
variables; booleans are \`true\`/\`false\` (\`1\`/\`0\` in the environment), and on the command line
a switch (\`--dry-run\`, \`--no-watch\`). The file is read as YAML 1.2: \`yes\`, \`no\`, \`on\` and \`off\`
are text there, not booleans (write \`true\`/\`false\`), and a more-indented line never continues
the value above it (quote a value that spans lines, or use \`|\` or \`>\`). The README's settings table groups them by topic.

The same declaration yields [\`${CONFIG_SCHEMA_FILE}\`](../${CONFIG_SCHEMA_FILE}), a JSON Schema
(draft-07) of the file. A YAML language server (the VS Code YAML extension, Neovim's yamlls, ...)
completes keys, shows this help on hover and flags unknown keys and bad values as you type when the
file's first line names the schema:

\`\`\`yaml
# yaml-language-server: $schema=../${CONFIG_SCHEMA_FILE}
\`\`\`

with the schema's path relative to the YAML file (that line is the first of
[examples/gatehouse.yaml](../examples/gatehouse.yaml)), \`./node_modules/gatehouse/${CONFIG_SCHEMA_FILE}\`
where gatehouse is installed as a package, or the URL of the file in your copy of the repository.
The schema asks for the plain YAML forms (a list as a YAML list, a number unquoted); gatehouse
also takes a list as one comma-separated string and a quoted number, as the environment spells them.
gatehouse itself
validates with the same schema at start-up (ajv), then with the checks a schema cannot express
(SPIFFE IDs, addresses, combinations of keys); a bad value stops start-up naming the key, where it
came from (\`file:line:column\`, environment variable or flag) and the fix.

| key | flag / environment | type | default | |
|---|---|---|---|---|
${rows.join('\n')}
`;
}
