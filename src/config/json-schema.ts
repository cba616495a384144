/**
 * The JSON Schema (draft-07) of gatehouse's configuration, derived from the one declaration in
 * config/schema.ts. The same schema validates the merged file + environment + flags (load.ts, with
 * ajv) and is published as config.schema.json for editors: a YAML language server given
 * `# yaml-language-server: $schema=<path or URL of config.schema.json>` completes and checks keys.
 * https://json-schema.org/draft-07/json-schema-validation
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';
import { CONFIG_KEYS, envName, flagName, type KeySpec } from './schema.js';

/** Published as config.schema.json at the repository root (scripts/gen-config-schema.mjs). */
export const CONFIG_SCHEMA_FILE = 'config.schema.json';

/** host:port, :port, [v6]:port or unix:///path; `off` too where the key allows it. */
const ADDRESS = '^(unix:///.+|(\\[[0-9a-fA-F:.]+\\]|[^:\\[\\]]*):[0-9]{1,5})$';

type JsonSchema = Record<string, unknown>;

/** The canonical value of a key's example text (a list's comma-separated items, an integer). */
export function exampleValue(spec: KeySpec): unknown {
  switch (spec.type) {
    case 'integer':
      return Number(spec.example);
    case 'boolean':
      return spec.example === 'true';
    case 'list':
      return spec.example.split(',');
    default:
      return spec.example;
  }
}

/** The schema of one key's value, with its default, example and help. */
export function keySchema(key: string, spec: KeySpec): JsonSchema {
  const value: JsonSchema = (() => {
    switch (spec.type) {
      case 'string':
        return { type: spec.numberAsText ? ['string', 'integer'] : 'string' };
      case 'path':
        return { type: 'string', minLength: 1 };
      case 'address':
        // Where the key may be off, "off" or empty.
        return { type: 'string', pattern: spec.allowOff ? ADDRESS.replace('^(', '^(off|').replace(')$', ')?$') : ADDRESS };
      case 'integer':
        return { type: 'integer', minimum: spec.min, maximum: spec.max };
      case 'boolean':
        return { type: 'boolean' };
      case 'enum':
        return { type: 'string', enum: [...spec.values] };
      case 'list':
        return { type: 'array', items: { type: 'string' } };
    }
  })();
  return {
    description: `${spec.help}. Flag --${flagName(key)}, environment variable ${envName(key)}.`,
    ...value,
    ...(spec.default === undefined ? {} : { default: spec.default }),
    examples: [exampleValue(spec)],
  };
}

/**
 * The schema of a configuration file. No key is required in a file: a key without a default
 * (bundle) may come from the environment or a flag; the validator of the merged configuration
 * (configValidator) requires it.
 */
export function configJsonSchema(): JsonSchema {
  const entries = Object.entries(CONFIG_KEYS) as [string, KeySpec][];
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'gatehouse serve configuration',
    description:
      'The YAML file given to "gatehouse serve --config". Every key can also be an environment variable (GATEHOUSE_<KEY>) or a flag (--kebab-case), which win over the file. Generated from src/config/schema.ts by scripts/gen-config-schema.mjs.',
    type: 'object',
    properties: Object.fromEntries(entries.map(([key, spec]) => [key, keySchema(key, spec)])),
    additionalProperties: false,
  };
}

/** The keys that must have a value once file, environment and flags are merged: those without a default. */
export function requiredKeys(): string[] {
  return (Object.entries(CONFIG_KEYS) as [string, KeySpec][]).filter(([, spec]) => spec.default === undefined && spec.type !== 'path').map(([key]) => key);
}

/** The schema configValidator checks: the file's schema with the required keys. */
export function validatorSchema(): JsonSchema {
  return { ...configJsonSchema(), required: requiredKeys() };
}

/**
 * ajv's options for the configuration. allErrors: every problem is reported, problems.ts picks
 * the first in declaration order. strict: an unknown keyword in the generated schema is a bug
 * here, not a silently ignored rule.
 */
export const AJV_OPTIONS = { allErrors: true, strict: true, allowUnionTypes: true } as const;

/**
 * The validator compiled ahead by the build (scripts/gen-config-validator.mjs, ajv's standalone
 * code) into dist/config/, beside this module. Compiling the schema at start-up costs about 40 ms
 * of CPU (bench/config-load.mjs), on every `serve`, `check`, `test`, `replay`.
 */
export const STANDALONE_VALIDATOR_FILE = 'config-validator.generated.cjs';

/** sha256 of a schema, recorded in the ahead-compiled validator to tell a stale one. */
export function schemaDigest(schema: JsonSchema): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex');
}

const require = createRequire(import.meta.url);
let compiled: ValidateFunction | undefined;

/**
 * The validator of the merged configuration (file + environment + flags). The build's
 * ahead-compiled one when it was compiled from this very schema (same digest), else compiled
 * here on first use (tests run from src/; a key added without a build) and kept.
 */
export function configValidator(): ValidateFunction {
  if (compiled) return compiled;
  const schema = validatorSchema();
  compiled = aheadCompiled(schemaDigest(schema)) ?? compile(schema);
  return compiled;
}

/** ajv itself is loaded only to compile: the ahead-compiled validator needs none of it (about 20 ms less at start-up). */
function compile(schema: JsonSchema): ValidateFunction {
  const { Ajv } = require('ajv') as typeof import('ajv');
  return new Ajv(AJV_OPTIONS).compile(schema);
}

function aheadCompiled(digest: string): ValidateFunction | undefined {
  try {
    const validate = require(`./${STANDALONE_VALIDATOR_FILE}`) as ValidateFunction & { schemaDigest?: string };
    return validate.schemaDigest === digest ? validate : undefined;
  } catch {
    return undefined; // not built (running from src/): compile
  }
}

/** config.schema.json as written by scripts/gen-config-schema.mjs. */
export function configSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
