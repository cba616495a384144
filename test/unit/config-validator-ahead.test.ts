/**
 * The configuration validator compiled ahead by the build (scripts/gen-config-validator.mjs, ajv
 * standalone code) decides exactly as the one ajv compiles at start-up, errors included, so
 * problems.ts reports the same message either way.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { describe, expect, it } from 'vitest';
import { AJV_OPTIONS, schemaDigest, validatorSchema } from '../../src/config/json-schema.js';
import { ROOT } from '../support/tools.js';

const INPUTS: unknown[] = [
  { bundle: 'b' },
  {},
  { bundle: 'b', bundel: 'c' },
  { bundle: 'b', max_body_bytes: 'lots', log_level: 'INFO', watch: 'yes' },
  { bundle: 'b', max_wasm_memory_mb: 1, workers: 2, admin_addr: 'off', addr: 'localhost' },
  { bundle: 'b', trust_domains: ['a', ['b']], instance: '' },
  { bundle: null, decision_cache_max_bytes: 17179869184 },
  [],
];

describe('ahead-compiled configuration validator', () => {
  it('gives the verdicts and errors of the validator compiled at start-up', () => {
    const schema = validatorSchema();
    const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
    // Inside the checkout, as dist/config/ is: the generated code requires ajv's runtime helpers.
    const cache = path.join(ROOT, 'node_modules/.cache');
    mkdirSync(cache, { recursive: true });
    const dir = mkdtempSync(path.join(cache, 'gatehouse-validator-'));
    const file = path.join(dir, 'validator.cjs');
    writeFileSync(file, `${standaloneCode(ajv, ajv.compile(schema))}\nmodule.exports.schemaDigest = ${JSON.stringify(schemaDigest(schema))};\n`);
    const ahead = createRequire(import.meta.url)(file) as ValidateFunction & { schemaDigest: string };
    rmSync(dir, { recursive: true });
    const compiled = new Ajv(AJV_OPTIONS).compile(schema);
    expect(ahead.schemaDigest).toBe(schemaDigest(validatorSchema()));
    for (const input of INPUTS) {
      const verdict = compiled(input);
      expect(ahead(input), JSON.stringify(input)).toBe(verdict);
      const strip = (errors: ValidateFunction['errors']) => (errors ?? []).map(({ instancePath, keyword, params }) => ({ instancePath, keyword, params }));
      expect(strip(ahead.errors), JSON.stringify(input)).toEqual(strip(compiled.errors));
    }
  });
});
