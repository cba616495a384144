// Compiles the configuration's JSON Schema ahead, at build time, into
// dist/config/config-validator.generated.cjs (ajv standalone code), with the digest of the schema
// it was compiled from: config/json-schema.ts configValidator uses it when the digest matches the
// current schema, and compiles at start-up otherwise. Run by `npm run build` after tsc.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/config');
const { AJV_OPTIONS, STANDALONE_VALIDATOR_FILE, schemaDigest, validatorSchema } = await import(path.join(dist, 'json-schema.js'));
const schema = validatorSchema();
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
const source = standaloneCode(ajv, ajv.compile(schema));
writeFileSync(path.join(dist, STANDALONE_VALIDATOR_FILE), `${source}\nmodule.exports.schemaDigest = ${JSON.stringify(schemaDigest(schema))};\n`);
