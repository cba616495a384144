/**
 * gojsonschema's words around Ajv (OPA validates with its copy of gojsonschema): its messages for
 * bad type names in a schema, its acceptance of empty combinators, and its error objects
 * (`{"error", "type", "field", "desc"}` with its types and descriptions, locale.go) rewritten from
 * Ajv's errors, including how it reports failed combinators.
 * https://ajv.js.org/api.html#validation-errors
 */
import type { ErrorObject } from 'ajv';
import { newObject } from './args.js';
import type { RegoValue } from './types.js';

const PRIMITIVE_TYPES = ['array', 'boolean', 'integer', 'number', 'null', 'object', 'string'];
const SUBSCHEMA_MAPS = ['definitions', 'properties', 'patternProperties', 'dependencies'];
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'items'];
const SUBSCHEMAS = ['additionalProperties', 'additionalItems', 'items', 'not', 'contains', 'propertyNames', 'if', 'then', 'else'];

/**
 * gojsonschema's own wording for the schema mistakes policies make most (a type name that does not
 * exist, a repeated or non-string type); anything else is reported with Ajv's message.
 */
export function gojsonschemaTypeError(schema: unknown): string | undefined {
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
export function withoutEmptyCombinators(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map(withoutEmptyCombinators);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (['enum', 'allOf', 'anyOf', 'oneOf'].includes(k) && Array.isArray(v) && v.length === 0) continue;
    Object.defineProperty(out, k, { value: withoutEmptyCombinators(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
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
export function opaErrors(errors: readonly ErrorObject[]): RegoValue[] {
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
