/**
 * json.verify_schema and json.match_schema (topdown/jsonschema.go). OPA validates with its copy of
 * gojsonschema; gatehouse validates with Ajv (draft-04 through ajv-draft-04 when `$schema` names
 * it, drafts 6 and 7 otherwise, gojsonschema's format checks) and rewrites Ajv's errors into
 * gojsonschema's shape: `{"error": "<field>: <desc>", "type": "<gojsonschema type>", "field":
 * "<dotted path or (Root)>", "desc": "<gojsonschema wording>"}`.
 * https://ajv.js.org/api.html#validation-errors
 */
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import * as ajvDraft04 from 'ajv-draft-04';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import { gojsonschemaTypeError, opaErrors, withoutEmptyCombinators } from './json-schema-errors.js';
import { GOJSONSCHEMA_FORMATS } from './json-schema-formats.js';
import { compileGoRegexp, findAllSubmatchIndex, GoString } from './re2.js';
import { BuiltinError, type RegoValue } from './types.js';
import { sortedElements } from './value-order.js';
import { BoundedMemo } from './bounded-memo.js';

/**
 * `pattern` and `patternProperties` with Go's regexp syntax and RE2's linear-time matching, as
 * gojsonschema does (JavaScript's RegExp would accept other syntax and can backtrack for ever on a
 * request-supplied string).
 */
const goRegExp = Object.assign(
  (pattern: string) => {
    const re = compileGoRegexp('json.match_schema', pattern);
    // Ajv keys its compiled patterns by toString()
    return { test: (s: string) => findAllSubmatchIndex(re, new GoString(s), 1).length > 0, toString: () => `/${pattern}/` };
  },
  { code: 'goRegExp' },
);

const OPTIONS = { allErrors: true, verbose: true, strict: false, logger: false, code: { regExp: goRegExp } } as const;

// CommonJS default export seen through NodeNext's ESM interop
const Ajv04 = (ajvDraft04 as unknown as { default: typeof Ajv }).default;

function newAjv(draft4: boolean): Ajv {
  const ajv = draft4 ? new Ajv04(OPTIONS) : new Ajv(OPTIONS);
  if (!draft4) ajv.addMetaSchema(draft06);
  for (const [name, validate] of Object.entries(GOJSONSCHEMA_FORMATS)) ajv.addFormat(name, { type: 'string', validate });
  return ajv;
}

let validators: { modern: Ajv; draft4: Ajv } | undefined;
function ajvFor(schema: unknown) {
  validators ??= { modern: newAjv(false), draft4: newAjv(true) };
  const id = typeof schema === 'object' && schema !== null ? (schema as Record<string, unknown>).$schema : undefined;
  return typeof id === 'string' && id.includes('draft-04') ? validators.draft4 : validators.modern;
}

/** Compiled schemas by their JSON text, bounded by count and total text length (oldest out first). */
const compiled = new BoundedMemo<ValidateFunction>(64, 4 << 20);

/** ast.JSON: sets become (sorted) arrays, non-string keys their JSON text. */
export function toJson(value: RegoValue): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Set) return sortedElements(value).map(toJson);
  const out: Record<string, unknown> = {};
  const entries: [RegoValue, RegoValue][] = value instanceof Map ? [...value] : Object.entries(value);
  for (const [k, v] of entries) {
    Object.defineProperty(out, typeof k === 'string' ? k : JSON.stringify(toJson(k)), { value: toJson(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** astValueToJSONSchemaLoader: a JSON string, an object or an array. */
function loadArgument(value: RegoValue | undefined): unknown {
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      throw new Error('invalid JSON string');
    }
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Set)) return toJson(value);
  throw new Error('wrong type, expected string or object');
}


function compile(original: unknown): ValidateFunction {
  return compiled.get(JSON.stringify(original), () => {
    const typeError = gojsonschemaTypeError(original);
    if (typeError) throw new Error(typeError);
    const schema = withoutEmptyCombinators(original);
    const ajv = ajvFor(schema);
    if (!ajv.validateSchema(schema as AnySchema)) throw new Error(ajv.errorsText(ajv.errors, { dataVar: 'schema' }));
    return ajv.compile(schema as AnySchema);
  });
}


export function verifySchema(schemaArg: RegoValue | undefined): RegoValue {
  try {
    compile(loadArgument(schemaArg));
    return [true, null];
  } catch (error) {
    return [false, `jsonschema: ${(error as Error).message}`];
  }
}

export function matchSchema(documentArg: RegoValue | undefined, schemaArg: RegoValue | undefined): RegoValue {
  let validate: ValidateFunction;
  let document: unknown;
  try {
    document = loadArgument(documentArg);
    validate = compile(loadArgument(schemaArg));
  } catch (error) {
    throw new BuiltinError('json.match_schema', (error as Error).message);
  }
  const valid = validate(document);
  return [valid, valid ? [] : opaErrors(validate.errors ?? [])];
}
