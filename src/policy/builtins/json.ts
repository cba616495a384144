/**
 * Host builtins: json.patch, json.match_schema, json.verify_schema, json.marshal_with_options
 * (topdown/json.go, jsonschema.go, encoding.go). json.marshal, json.unmarshal, json.filter and
 * json.remove are compiled into policy.wasm.
 */
import { arrayArg, typeName } from './args.js';
import { goJsonMarshal } from './go-encoding.js';
import { jsonPatch } from './json-patch.js';
import { matchSchema, verifySchema } from './json-schema.js';
import { BuiltinError, type BuiltinFamily, type RegoValue } from './types.js';
import { parseRegoValue } from '../rego-value.js';
import { compareStrings, sortedElements, sortedEntries, valueKey } from './value-order.js';

/**
 * encoding/json's MarshalIndent of ast.JSON(value): sorted keys, sets as sorted arrays, Go's string
 * escapes, `{}`/`[]` for empty collections; the first line is not prefixed (OPA adds the prefix).
 */
export function goJsonIndent(value: RegoValue, prefix: string, indent: string, scalar: Scalar = goJsonMarshal, depth = 0): string {
  const line = (d: number) => `\n${prefix}${indent.repeat(d)}`;
  if (value === null || typeof value !== 'object') return scalar(value);
  if (Array.isArray(value) || value instanceof Set) {
    const items = value instanceof Set ? sortedElements(value) : value;
    if (items.length === 0) return '[]';
    return `[${items.map((v) => line(depth + 1) + goJsonIndent(v, prefix, indent, scalar, depth + 1)).join(',')}${line(depth)}]`;
  }
  const entries = sortedEntries(value).map(([k, v]): [string, RegoValue] => [typeof k === 'string' ? k : goJsonMarshal(k), v]);
  entries.sort((a, b) => compareStrings(a[0], b[0]));
  if (entries.length === 0) return '{}';
  const body = entries.map(([k, v]) => `${line(depth + 1)}${goJsonMarshal(k)}: ${goJsonIndent(v, prefix, indent, scalar, depth + 1)}`);
  return `{${body.join(',')}${line(depth)}}`;
}

/** Compact encoding with sets sorted (goJsonMarshal keeps a set's iteration order). */
export function goJsonCompact(value: RegoValue, scalar: Scalar = goJsonMarshal): string {
  const item = (v: RegoValue) => goJsonCompact(v, scalar);
  if (value instanceof Set) return `[${sortedElements(value).map(item).join(',')}]`;
  if (Array.isArray(value)) return `[${value.map(item).join(',')}]`;
  if (value === null || typeof value !== 'object') return scalar(value);
  const entries: [string, RegoValue][] = (value instanceof Map ? [...value] : Object.entries(value)).map(([k, v]) => [
    typeof k === 'string' ? k : goJsonMarshal(k),
    v,
  ]);
  entries.sort((a, b) => compareStrings(a[0], b[0]));
  return `{${entries.map(([k, v]) => `${goJsonMarshal(k)}:${goJsonCompact(v, scalar)}`).join(',')}}`;
}

/** How a scalar is written: goJsonMarshal, or with numbers as the policy wrote them. */
type Scalar = (value: RegoValue) => string;

const NUMBER_TOKEN = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * OPA keeps a number's text (ast.Number is a json.Number): `1.0` and `1e3` are written so. The
 * argument's Rego value text holds that text; each number is written with the text it had there
 * (a value written two ways falls back to its shortest form).
 */
export function numbersAsWritten(valueText: string): Scalar {
  const texts = new Map<string, string | null>();
  for (let i = 0; i < valueText.length; i++) {
    const c = valueText[i]!;
    if (c === '"') {
      for (i++; i < valueText.length && valueText[i] !== '"'; i++) if (valueText[i] === '\\') i++;
      continue;
    }
    if (c !== '-' && (c < '0' || c > '9')) continue;
    NUMBER_TOKEN.lastIndex = i;
    const token = NUMBER_TOKEN.exec(valueText)![0];
    const n = Number(token);
    const key = valueKey(Number.isInteger(n) && !Number.isSafeInteger(n) && /^-?\d+$/.test(token) ? BigInt(token) : n);
    texts.set(key, texts.has(key) && texts.get(key) !== token ? null : token);
    i += token.length - 1;
  }
  return (value) => {
    if (typeof value !== 'number' && typeof value !== 'bigint') return goJsonMarshal(value);
    return texts.get(valueKey(value)) ?? goJsonMarshal(value);
  };
}

function marshalWithOptions(value: RegoValue, options: RegoValue | undefined, scalar: Scalar = goJsonMarshal): string {
  const fail = (message: string) => new BuiltinError('json.marshal_with_options', `operand 2 ${message}`);
  if (options === null || typeof options !== 'object' || Array.isArray(options) || options instanceof Set) {
    throw new BuiltinError('json.marshal_with_options', `operand 2 must be object but got ${typeName(options)}`);
  }
  let indent = '\t';
  let prefix = '';
  let implicit = false;
  let explicit: boolean | undefined;
  const entries = sortedEntries(options);
  for (const [key, val] of entries) {
    if (typeof key !== 'string') throw fail(`failed to stringify key ${goJsonMarshal(key)}`);
    switch (key) {
      case 'prefix':
      case 'indent':
        if (typeof val !== 'string') throw fail(`key ${key} failed cast to string`);
        if (key === 'prefix') prefix = val;
        else indent = val;
        implicit = true;
        break;
      case 'pretty':
        if (typeof val !== 'boolean') throw fail(`key ${key} failed cast to bool`);
        explicit = val;
        break;
      default:
        throw fail(`object contained unknown key ${key}`);
    }
  }
  return (explicit ?? implicit) ? prefix + goJsonIndent(value, prefix, indent, scalar) : goJsonCompact(value, scalar);
}

export const jsonBuiltins: BuiltinFamily = {
  'json.patch': {
    fn: (_ctx, doc, ops) => jsonPatch(doc!, arrayArg('json.patch', 2, ops)),
    note: 'Follows OPA\'s edit tree, quirks included: after an insertion into an array, an index not yet edited still reads the original array (add /a/0 then replace /a/2/x edits the original third element). Where OPA panics the call is undefined; a path element written 1.0 indexes like 1.',
  },
  'json.match_schema': {
    fn: (_ctx, doc, schema) => matchSchema(doc, schema),
    note: 'Validated with Ajv (drafts 4, 6, 7; gojsonschema\'s format checks ported), not gojsonschema: errors carry gojsonschema\'s type, field and wording, but may come in another order; where anyOf/oneOf/contains fail, the first alternative\'s errors are reported (gojsonschema picks the best-scoring one, the first on a tie).',
  },
  'json.verify_schema': {
    fn: (_ctx, schema) => verifySchema(schema),
    note: 'Schemas are checked by Ajv against the draft\'s meta-schema (empty enum/allOf/anyOf/oneOf accepted, as gojsonschema does); a bad `type` is reported in gojsonschema\'s words, other schema mistakes in Ajv\'s.',
  },
  'json.marshal_with_options': {
    fn: (_ctx, value, options) => marshalWithOptions(value!, options),
    fnText: (_ctx, valueText, optionsText) => marshalWithOptions(parseRegoValue(valueText!), parseRegoValue(optionsText!), numbersAsWritten(valueText!)),
    note: 'Numbers are written as the policy holds them (1.0 stays 1.0, as in OPA), except a value written two ways in one argument, which takes its shortest form.',
  },
};
