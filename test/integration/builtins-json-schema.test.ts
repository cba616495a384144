/**
 * json.match_schema and json.verify_schema against `opa eval`. gatehouse validates with Ajv and
 * rewrites its errors into gojsonschema's shape; this compares validity and the error set (sorted:
 * the order of errors is not part of the contract) over common keywords and drafts.
 */
import { describe, expect, it } from 'vitest';
import type { RegoValue } from '../../src/policy/builtins/types.js';
import type { BuiltinCase, Outcome } from '../support/builtin-oracle.js';
import { expectSameAsOpaNormalised, sortedArray } from '../support/builtin-oracle-normalised.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const SCHEMAS: RegoValue[] = [
  { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, name: { type: 'string', minLength: 2, maxLength: 5, pattern: '^[a-z]+$' } } },
  { type: 'array', items: { type: 'number', minimum: 0, maximum: 10, exclusiveMaximum: 9 }, minItems: 1, maxItems: 3, uniqueItems: true },
  { type: ['string', 'null'], enum: ['a', 'b', null] },
  { const: { a: 1 } },
  { type: 'object', additionalProperties: false, properties: { a: {} }, minProperties: 1, maxProperties: 2 },
  { type: 'object', patternProperties: { '^x-': { type: 'string' } }, additionalProperties: { type: 'integer' } },
  { type: 'number', multipleOf: 0.5 },
  { not: { type: 'string' } },
  { type: 'object', dependencies: { a: ['b'] } },
  { type: 'string', format: 'email' },
  { type: 'string', pattern: '^\\p{Greek}+$' },
  { type: 'string', pattern: '(a+)+$' },
  { type: 'object', patternProperties: { '^\\d+$': { type: 'integer' } } },
  { type: 'string', format: 'date-time' },
  { type: 'string', format: 'ipv4' },
  { type: 'object', properties: { nested: { type: 'object', properties: { deep: { type: 'boolean' } }, required: ['deep'] } } },
  { $schema: 'http://json-schema.org/draft-04/schema#', type: 'integer', minimum: 5, exclusiveMinimum: true },
  { $schema: 'http://json-schema.org/draft-07/schema#', if: { type: 'string' }, then: { minLength: 3 }, else: { type: 'integer' } },
  { type: 'array', contains: { const: 3 } },
  { anyOf: [{ type: 'string', minLength: 2 }, { type: 'integer' }] },
  { oneOf: [{ type: 'number', minimum: 3 }, { type: 'integer', maximum: 5 }] },
  { allOf: [{ type: 'object', required: ['a'] }, { required: ['b'] }] },
  { type: 'number', minimum: 0.1, maximum: 1e21, multipleOf: 0.01 },
  { type: 'number', exclusiveMinimum: 1e-7, exclusiveMaximum: 100.5 },
  { type: 'object', dependencies: { a: { required: ['c'] }, b: ['a'] } },
  { type: 'array', items: [{ type: 'integer' }, { type: 'string' }], additionalItems: false },
  { type: 'array', items: [{ type: 'integer' }], additionalItems: { type: 'string' } },
  { type: 'object', propertyNames: { pattern: '^[a-z]$' }, minProperties: 2 },
  { type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'array', items: { type: 'object', required: ['c'] } } } } } },
  { type: 'object', propertyNames: { maxLength: 2 } },
  true as unknown as RegoValue,
  { definitions: { pos: { type: 'integer', minimum: 1 } }, properties: { n: { $ref: '#/definitions/pos' } } },
];

const DOCUMENTS: RegoValue[] = [
  { id: 5 }, { id: 'x' }, { name: 'Ab1234' }, {}, [], [1, 2], [1, 1], [11, -1, 9.5, 2], null, 'a', 'c', { a: 1 }, { a: 1, b: 2, c: 3 }, { 'x-h': 1, y: 'no' }, 1.25, 1.5,
  'string', 'ab', 7, 5, 6, { a: 1, b: 1 }, 'me@example.com', 'not an email', '2024-01-01T00:00:00Z', '1.2.3.4', '999.1.1.1', { nested: {} }, { nested: { deep: 'no' } },
  [3, 4], { abc: 1 }, { n: 0 }, { n: 2 }, 0.05, 0.125, 1e22, 100.5, 1e-8, [1, 'x', 'y'], [1, 2], ['a', 1], { a: { b: [{ c: 1 }, {}, { d: 2 }] } }, { ab: 1, c: 2 }, 'αβγ', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', { '12': 'x', '3': 4 },
];

function cases(): BuiltinCase[] {
  const out: BuiltinCase[] = [];
  for (const s of SCHEMAS) {
    out.push({ builtin: 'json.verify_schema', args: [s] });
    for (const d of DOCUMENTS) out.push({ builtin: 'json.match_schema', args: [d, s] });
  }
  out.push({ builtin: 'json.match_schema', args: ['{"id": 5}', '{"properties": {"id": {"type": "integer"}}}'] });
  out.push({ builtin: 'json.match_schema', args: ['{bad', '{}'] });
  const schemas = [
    { type: 'foo' }, { type: ['string', 'foo'] }, { type: 5 }, { minimum: 'x' }, { maxLength: -1 }, { maxLength: 1.5 }, { required: 'a' }, { required: [1] },
    { properties: 5 }, { properties: { a: 5 } }, { enum: [] }, { items: 5 }, { pattern: '(' }, { additionalProperties: 5 }, { allOf: [] }, { allOf: 5 },
    { $ref: 5 }, { multipleOf: 0 }, { minItems: 'a' }, { uniqueItems: 1 }, { format: 5 }, { properties: { a: { type: 'bar' } } }, { type: ['string', 'string'] },
    { dependencies: 5 }, { not: 5 }, { const: null }, '{', '{"type": "object"}', { required: [] }, { anyOf: [] }, { oneOf: [{}] }, { $ref: '#/definitions/missing' },
    { format: 'no-such-format' }, { pattern: '(?=a)' }, { pattern: '\\p{Greek}' }, { type: 'object', properties: { a: { $ref: '#' } } }, { exclusiveMinimum: true }, { minLength: 2.0 }, { definitions: 5 },
  ];
  for (const bad of schemas) out.push({ builtin: 'json.verify_schema', args: [bad as RegoValue] });
  const formats = ['email', 'idn-email', 'hostname', 'idn-hostname', 'ipv4', 'ipv6', 'uri', 'uri-reference', 'iri', 'iri-reference', 'uri-template', 'uuid',
    'date-time', 'date', 'time', 'regex', 'json-pointer', 'relative-json-pointer', 'duration'];
  const samples = ['', 'a@b.co', 'not an email', 'example.com', '-bad-.com', 'exa_mple.com', '1.2.3.4', '256.1.1.1', '01.2.3.4', '::1', '1::2::3', 'fe80::1%eth0',
    'http://example.com/a?b#c', 'mailto:x@y', '/relative/path', 'a b', 'urn:uuid:1', '123e4567-e89b-12d3-a456-426614174000', '123e4567e89b12d3a456426614174000',
    '2024-01-01T00:00:00Z', '2024-01-01T00:00:00+01:00', '2024-01-01t00:00:00z', '2024-02-30T00:00:00Z', '2024-01-01', '2024-1-1', '12:30:00Z', '12:30:00', '25:00:00Z',
    '^[a-z]+$', '(', '/a/b', 'a/b', '0/a', '1#', 'P1D', 'PT1H', 'P1Y2M', '{x}', 'é@example.com', 'xn--bcher-kva.example', 'bücher.example', 5,
    'Name <a@b.c>', '"quoted"@x.y', 'a@[1.2.3.4]', 'a.@b', '.a@b', 'a..b@c', 'a@b.', '(comment) a@b', 'a@b (c)', '<a@b>', 'a b <a@b>', 'a@', '@b', 'a@b@c',
    '"a b"@c.d', 'Ω@ω.gr', '"Joe Q. Public" <john.q.public@example.com>', 'Joe.Q <j@x>', 'a@b>', 'a@b c', 'http://[::1]:80/x', 'http://a b', '%zz', '//host/p',
    '2024-01-01T00:00:00.123456789Z', '23:59:60Z', '12:30:00+25:00', '1:2:3', '2024-13-01'];
  // a string document is JSON text: the samples go in encoded
  for (const f of formats) for (const v of samples) out.push({ builtin: 'json.match_schema', args: [JSON.stringify(v), { format: f }] });
  return out;
}

/** [valid, errors] with the errors sorted; verify_schema's message reduced to whether there is one. */
function normalised(o: Outcome, c: BuiltinCase): Outcome {
  if (!Array.isArray(o)) return o;
  if (c.builtin === 'json.verify_schema') return [o[0], o[1] === null ? null : 'error'];
  return [o[0], sortedArray(o[1])];
}

describe.skipIf(tool.skip)('json.match_schema / verify_schema against opa eval', () => {
  it('agrees with OPA on validity and on the errors reported', () => {
    const all = cases();
    const raw = expectSameAsOpaNormalised(tool.opa, all, normalised, { minDefined: 0.5 });
    // gojsonschema's wording for bad type names is kept exactly
    const typeCases = all.flatMap((c, i) => (c.builtin === 'json.verify_schema' && JSON.stringify(c.args[0]).includes('"type"') ? [i] : []));
    expect(typeCases.length).toBeGreaterThan(4);
    for (const i of typeCases) expect(raw.gatehouse[i]).toEqual(raw.opa[i]);
  }, 60_000);
});
