/**
 * The files generated from the configuration declaration (config.schema.json, docs/configuration.md)
 * are current, the published schema is a valid draft-07 schema that accepts the example files and
 * every key's default and example, and the README's settings table names every key once with its
 * declared default.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_SCHEMA_FILE, configJsonSchema, configSchemaText, exampleValue } from '../../src/config/json-schema.js';
import { configReferenceMarkdown } from '../../src/config/reference.js';
import { CONFIG_KEYS, type KeySpec } from '../../src/config/schema.js';
import { ROOT } from '../support/tools.js';

const REGENERATE = 'stale: run "npm run gen:config" (npm run build && node scripts/gen-config-schema.mjs) and commit the result';
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const entries = Object.entries(CONFIG_KEYS) as [string, KeySpec][];

describe('files generated from src/config/schema.ts', () => {
  it(`${CONFIG_SCHEMA_FILE} is current`, () => {
    expect(read(CONFIG_SCHEMA_FILE), REGENERATE).toBe(configSchemaText());
  });

  it('docs/configuration.md is current', () => {
    expect(read('docs/configuration.md'), REGENERATE).toBe(configReferenceMarkdown());
  });
});

describe('the published JSON Schema', () => {
  // From the declaration, not the file: a stale file fails the test above, not these.
  const validate = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true }).compile(configJsonSchema());

  it('accepts every key\'s default and example, and examples/gatehouse.yaml', () => {
    for (const [key, spec] of entries) {
      if (spec.default !== undefined) expect(validate({ [key]: spec.default }), `${key} default: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(validate({ [key]: exampleValue(spec) }), `${key} example: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(validate(parseYaml(read('examples/gatehouse.yaml'))), JSON.stringify(validate.errors)).toBe(true);
  });

  it('refuses an unknown key, a wrong type, a value out of range or outside an enum, a list inside a list', () => {
    for (const bad of [{ bundel: 'b' }, { max_body_bytes: 'lots' }, { max_wasm_memory_mb: 1 }, { log_level: 'loud' }, { trust_domains: [['a']] }, { addr: 'localhost' }, { watch: 'yes' }]) {
      expect(validate(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('names each key\'s flag and environment variable for editors that show the description', () => {
    const properties = configJsonSchema().properties as Record<string, { description: string }>;
    expect(properties.max_body_bytes!.description).toContain('Flag --max-body-bytes, environment variable GATEHOUSE_MAX_BODY_BYTES.');
  });

  it('examples/gatehouse.yaml names it for YAML language servers on its first line', () => {
    expect(read('examples/gatehouse.yaml').split('\n')[0]).toBe(`# yaml-language-server: $schema=../${CONFIG_SCHEMA_FILE}`);
  });
});

/** The README's settings table: each row's keys (`_max_ms` abbreviations expanded) and its default cell. */
function readmeSettings(): { keys: string[]; defaults: string }[] {
  const readme = read('README.md');
  const start = readme.indexOf('| setting | default | |');
  const table = readme.slice(start, readme.indexOf('\n\n', start));
  const known = Object.keys(CONFIG_KEYS);
  return table
    .split('\n')
    .slice(2)
    .map((row) => {
      const [names = '', defaults = ''] = row.split(' | ').map((c) => c.replace(/^\| /, ''));
      const keys: string[] = [];
      for (const [, name] of names.matchAll(/`([a-z_]+)`/g)) {
        if (!name!.startsWith('_')) keys.push(name!);
        else {
          // `bundle_poll_min_ms`, `_max_ms`: the suffix replaces the tail of the row's first key.
          const first = keys[0] ?? '';
          const prefixes = [...first.matchAll(/_/g)].map((m) => first.slice(0, m.index)).reverse();
          keys.push(prefixes.map((p) => p + name).find((k) => known.includes(k)) ?? name!);
        }
      }
      return { keys, defaults };
    });
}

describe('README settings table', () => {
  const rows = readmeSettings();

  it('names every key once, and only keys that exist', () => {
    const named = rows.flatMap((r) => r.keys);
    expect(named.filter((k) => !(k in CONFIG_KEYS)), 'README rows naming no configuration key').toEqual([]);
    expect(Object.keys(CONFIG_KEYS).filter((k) => !named.includes(k)), 'keys missing from the README settings table').toEqual([]);
    expect(named.filter((k, i) => named.indexOf(k) !== i), 'keys in two README rows').toEqual([]);
  });

  it('gives each key its declared default', () => {
    for (const { keys, defaults } of rows) {
      const cells = defaults.split(', ');
      keys.forEach((key, i) => {
        const spec = CONFIG_KEYS[key as keyof typeof CONFIG_KEYS];
        const text = (cells.length === keys.length ? cells[i]! : defaults).replace(/ \(.*\)$/, '');
        const declared = spec.default;
        const code = /^`(.*)`$/.exec(text)?.[1];
        const mib = /^(\d+) MiB$/.exec(text)?.[1];
        if (code !== undefined) expect(code, key).toBe(Array.isArray(declared) ? declared.join(',') : String(declared));
        else if (mib !== undefined) expect(Number(mib) * 1024 * 1024, key).toBe(declared);
        else if (text === '(required)') expect(declared, key).toBeUndefined();
        else expect(declared === undefined || (Array.isArray(declared) && declared.length === 0), `${key}: "${text}" for a default of ${JSON.stringify(declared)}`).toBe(true);
      });
    }
  });
});
