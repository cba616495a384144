/**
 * json.verify_schema and json.match_schema (topdown/jsonschema.go). OPA validates with its copy of
 * gojsonschema; gatehouse validates with Ajv (draft-04 through ajv-draft-04 when `$schema` names
 * it, drafts 6 and 7 otherwise, formats from ajv-formats) and rewrites Ajv's errors into
 * gojsonschema's shape: `{"error": "<field>: <desc>", "type": "<gojsonschema type>", "field":
 * "<dotted path or (Root)>", "desc": "<gojsonschema wording>"}`.
 * https://ajv.js.org/api.html#validation-errors
 */
import { Ajv, type AnySchema, type ErrorObject, type ValidateFunction } from 'ajv';
import * as ajvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import { newObject } from './args.js';
import { compileGoRegexp, findAllSubmatchIndex, GoString } from './re2.js';
import { BuiltinError, type RegoValue } from './types.js';
import { sortedElements } from './value-order.js';

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
  // ajv-formats' default export is typed for CommonJS interop
  (addFormats as unknown as (a: unknown) => void)(ajv);
  return ajv;
}

let validators: { modern: Ajv; draft4: Ajv } | undefined;
function ajvFor(schema: unknown) {
  validators ??= { modern: newAjv(false), draft4: newAjv(true) };
  const id = typeof schema === 'object' && schema !== null ? (schema as Record<string, unknown>).$schema : undefined;
  return typeof id === 'string' && id.includes('draft-04') ? validators.draft4 : validators.modern;
}

/** Compiled schemas by their JSON text, bounded (oldest out first). */
const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED = 64;

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

const PRIMITIVE_TYPES = ['array', 'boolean', 'integer', 'number', 'null', 'object', 'string'];
const SUBSCHEMA_MAPS = ['definitions', 'properties', 'patternProperties', 'dependencies'];
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'items'];
const SUBSCHEMAS = ['additionalProperties', 'additionalItems', 'items', 'not', 'contains', 'propertyNames', 'if', 'then', 'else'];

/**
 * gojsonschema's own wording for the schema mistakes policies make most (a type name that does not
 * exist, a repeated or non-string type); anything else is reported with Ajv's message.
 */
function gojsonschemaTypeError(schema: unknown): string | undefined {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return undefined;
  const node = schema as Record<string, unknown>;
  if (Object.hasOwn(node, 'type')) {
    const t = node.type;
    const names = typeof t === 'string' ? [t] : Array.isArray(t) && t.every((x) => typeof x === 'string') ? (t as string[]) : undefined;
    if (!names) return 'Invalid type. Expected: type, given: string/Array Of Strings';
    const seen = new Set<string>();
    for (const name of names) {
      if (!PRIMITIVE_TYPES.includes(name)) return `has a primitive type that is NOT VALID -- given: /${name}/ Expected valid values are:[${PRIMITIVE_TYPES.join(' ')}]`;
      if (seen.has(name)) return `${name} type is duplicated`;
      seen.add(name);
    }
  }
  const children: unknown[] = [];
  for (const k of SUBSCHEMA_MAPS) if (node[k] && typeof node[k] === 'object') children.push(...Object.values(node[k] as object));
  for (const k of SUBSCHEMA_LISTS) if (Array.isArray(node[k])) children.push(...(node[k] as unknown[]));
  for (const k of SUBSCHEMAS) if (node[k] && typeof node[k] === 'object' && !Array.isArray(node[k])) children.push(node[k]);
  for (const child of children) {
    const error = gojsonschemaTypeError(child);
    if (error) return error;
  }
  return undefined;
}

/** gojsonschema ignores an empty enum/allOf/anyOf/oneOf (no constraint); Ajv's meta-schemas refuse them. */
function withoutEmptyCombinators(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map(withoutEmptyCombinators);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (['enum', 'allOf', 'anyOf', 'oneOf'].includes(k) && Array.isArray(v) && v.length === 0) continue;
    Object.defineProperty(out, k, { value: withoutEmptyCombinators(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function compile(original: unknown): ValidateFunction {
  const key = JSON.stringify(original);
  const hit = compiled.get(key);
  if (hit) return hit;
  const typeError = gojsonschemaTypeError(original);
  if (typeError) throw new Error(typeError);
  const schema = withoutEmptyCombinators(original);
  const ajv = ajvFor(schema);
  if (!ajv.validateSchema(schema as AnySchema)) throw new Error(ajv.errorsText(ajv.errors, { dataVar: 'schema' }));
  const fn = ajv.compile(schema as AnySchema);
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, fn);
  return fn;
}

/** gojsonschema's name for a JSON value's type. */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function fieldOf(instancePath: string): string {
  if (instancePath === '') return '(Root)';
  return instancePath
    .slice(1)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.');
}

const parentPath = (schemaPath: string) => schemaPath.slice(0, schemaPath.lastIndexOf('/'));

/** One Ajv error as gojsonschema's [type, desc], or undefined to leave it out. */
function describe(e: ErrorObject, field: string): [string, string] | undefined {
  const p = e.params as Record<string, unknown>;
  const schema = e.schema as unknown;
  switch (e.keyword) {
    case 'type': {
      const types = Array.isArray(schema) ? `[${(schema as string[]).join(',')}]` : String(schema);
      return ['invalid_type', `Invalid type. Expected: ${types}, given: ${jsonType(e.data)}`];
    }
    case 'required':
      return ['required', `${String(p.missingProperty)} is required`];
    case 'enum':
      return ['enum', `${field} must be one of the following: ${(schema as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`];
    case 'const':
      return ['const', `${field} does not match: ${JSON.stringify(schema)}`];
    case 'minLength':
      return ['string_gte', `String length must be greater than or equal to ${String(p.limit)}`];
    case 'maxLength':
      return ['string_lte', `String length must be less than or equal to ${String(p.limit)}`];
    case 'pattern':
      return ['pattern', `Does not match pattern '${String(p.pattern)}'`];
    case 'format':
      return ['format', `Does not match format '${String(p.format)}'`];
    case 'multipleOf':
      return ['multiple_of', `Must be a multiple of ${String(p.multipleOf)}`];
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const c = String(p.comparison);
      const limit = String(p.limit);
      if (c === '>=') return ['number_gte', `Must be greater than or equal to ${limit}`];
      if (c === '>') return ['number_gt', `Must be greater than ${limit}`];
      if (c === '<=') return ['number_lte', `Must be less than or equal to ${limit}`];
      return ['number_lt', `Must be less than ${limit}`];
    }
    case 'minItems':
      return ['array_min_items', `Array must have at least ${String(p.limit)} items`];
    case 'maxItems':
      return ['array_max_items', `Array must have at most ${String(p.limit)} items`];
    case 'uniqueItems':
      return ['unique', `array items[${Math.min(Number(p.i), Number(p.j))},${Math.max(Number(p.i), Number(p.j))}] must be unique`];
    case 'contains':
      return ['contains', 'At least one of the items must match'];
    case 'additionalItems':
      return ['array_no_additional_items', 'No additional items allowed on array'];
    case 'minProperties':
      return ['array_min_properties', `Must have at least ${String(p.limit)} properties`];
    case 'maxProperties':
      return ['array_max_properties', `Must have at most ${String(p.limit)} properties`];
    case 'additionalProperties':
      return ['additional_property_not_allowed', `Additional property ${String(p.additionalProperty)} is not allowed`];
    case 'propertyNames':
      return ['invalid_property_name', `Property name of "${String(p.propertyName)}" does not match`];
    case 'dependencies':
    case 'dependentRequired':
      return ['missing_dependency', `Has a dependency on ${String(p.missingProperty)}`];
    case 'anyOf':
      return ['number_any_of', 'Must validate at least one schema (anyOf)'];
    case 'oneOf':
      return ['number_one_of', 'Must validate one and only one schema (oneOf)'];
    case 'not':
      return ['number_not', 'Must not validate the schema (not)'];
    case 'false schema':
      return ['false', 'False always fails validation'];
    case 'if':
      return p.failingKeyword === 'else'
        ? ['condition_else', 'Must validate "else" as "if" was not valid']
        : ['condition_then', 'Must validate "then" as "if" was valid'];
    default:
      return undefined;
  }
}

/**
 * Where gojsonschema reports a combinator failure (anyOf, oneOf, contains), it adds the errors of
 * the best-scoring alternative only; the first alternative stands in for it here (gojsonschema's
 * choice on a tie). Ajv reports every alternative's errors: keep the first one's.
 */
function isFromOtherAlternative(e: ErrorObject, combinators: readonly ErrorObject[]): boolean {
  for (const c of combinators) {
    const root = `${c.schemaPath}/`;
    if (!e.schemaPath.startsWith(root)) continue;
    if (c.keyword === 'contains') return !e.instancePath.startsWith(`${c.instancePath}/0`) || /^\/0\/\d/.test(e.instancePath.slice(c.instancePath.length + 2));
    return !e.schemaPath.startsWith(`${root}0/`);
  }
  return false;
}

/** Ajv's errors in gojsonschema's shape. */
function opaErrors(errors: readonly ErrorObject[]): RegoValue[] {
  // gojsonschema stops at a type mismatch: no other errors from the same schema for that value
  const typeFailures = new Set(errors.filter((e) => e.keyword === 'type').map((e) => `${e.instancePath}\u0000${parentPath(e.schemaPath)}`));
  const combinators = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'contains');
  const out: RegoValue[] = [];
  for (const e of errors) {
    if (e.keyword !== 'type' && typeFailures.has(`${e.instancePath}\u0000${parentPath(e.schemaPath)}`)) continue;
    if (isFromOtherAlternative(e, combinators)) continue;
    const field = fieldOf(e.instancePath);
    const described = describe(e, field);
    if (!described) continue;
    const o = newObject();
    o.error = `${field}: ${described[1]}`;
    o.type = described[0];
    o.field = field;
    o.desc = described[1];
    out.push(o);
  }
  return [...out, ...allOfErrors(errors)];
}

/** gojsonschema adds "Must validate all the schemas (allOf)" where an allOf failed; Ajv does not. */
function allOfErrors(errors: readonly ErrorObject[]): RegoValue[] {
  const failed = new Map<string, string>(); // allOf schema path → the instance it applied to
  for (const e of errors) {
    const m = /^(.*\/allOf)\/\d+\//.exec(e.schemaPath);
    if (!m) continue;
    const known = failed.get(m[1]!);
    if (known === undefined || e.instancePath.length < known.length) failed.set(m[1]!, e.instancePath);
  }
  return [...failed.values()].map((instancePath) => {
    const field = fieldOf(instancePath);
    const o = newObject();
    o.error = `${field}: Must validate all the schemas (allOf)`;
    o.type = 'number_all_of';
    o.field = field;
    o.desc = 'Must validate all the schemas (allOf)';
    return o;
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
