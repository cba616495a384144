/**
 * OPA also takes GraphQL as the AST objects its own parse builtins return (gqlparser's JSON shape):
 * it decodes them into gqlparser's structs. gatehouse prints such an object back into GraphQL text
 * and parses that, with gqlparser's decoding rules: every selection decodes as a field (its
 * UnmarshalSelectionSet tries Field first, which accepts any object), absent keys are zero values.
 */
import type { RegoValue } from './types.js';

type Obj = Record<string, RegoValue>;

const isObj = (v: RegoValue | undefined): v is Obj =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Set) && !(v instanceof Map);
const str = (o: Obj, key: string): string => {
  const v = o[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Error(`${key} must be a string`);
  return v;
};
const arr = (o: Obj, key: string): Obj[] => {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error(`${key} must be an array`);
  return v.map((item) => {
    if (!isObj(item)) throw new Error(`${key} must hold objects`);
    return item;
  });
};
const strings = (o: Obj, key: string): string[] => {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${key} must be an array of strings`);
  return v as string[];
};
const sub = (o: Obj, key: string): Obj | undefined => {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new Error(`${key} must be an object`);
  return v;
};

function value(v: Obj): string {
  const raw = str(v, 'Raw');
  const children = arr(v, 'Children');
  switch (v.Kind ?? 0) {
    case 0:
      return `$${raw}`;
    case 3:
      return JSON.stringify(raw);
    case 4:
      // a block string reads back as its text unless that text has common indentation or blank edges
      return `"""${raw.replaceAll('"""', '\\"""')}"""`;
    case 8:
      return `[${children.map((c) => value(sub(c, 'Value') ?? {})).join(', ')}]`;
    case 9:
      return `{${children.map((c) => `${str(c, 'Name')}: ${value(sub(c, 'Value') ?? {})}`).join(', ')}}`;
    default:
      return raw;
  }
}

function type(t: Obj | undefined): string {
  if (!t) return '';
  const elem = sub(t, 'Elem');
  const base = elem ? `[${type(elem)}]` : str(t, 'NamedType');
  return t.NonNull === true ? `${base}!` : base;
}

const args = (list: Obj[]) => (list.length ? `(${list.map((a) => `${str(a, 'Name')}: ${value(sub(a, 'Value') ?? {})}`).join(', ')})` : '');
const directives = (o: Obj) => arr(o, 'Directives').map((d) => ` @${str(d, 'Name')}${args(arr(d, 'Arguments'))}`).join('');

/** Every selection as a field, as gqlparser decodes them. */
function selectionSet(list: Obj[]): string {
  if (list.length === 0) return '';
  const fields = list.map((f) => {
    const name = str(f, 'Name');
    const alias = str(f, 'Alias');
    return `${alias && alias !== name ? `${alias}: ` : ''}${name}${args(arr(f, 'Arguments'))}${directives(f)} ${selectionSet(arr(f, 'SelectionSet'))}`;
  });
  return `{ ${fields.join(' ')} }`;
}

function variables(list: Obj[]): string {
  if (list.length === 0) return '';
  const defs = list.map((d) => {
    const dflt = sub(d, 'DefaultValue');
    return `$${str(d, 'Variable')}: ${type(sub(d, 'Type'))}${dflt ? ` = ${value(dflt)}` : ''}${directives(d)}`;
  });
  return `(${defs.join(', ')})`;
}

export function printQueryDocument(doc: RegoValue): string {
  if (!isObj(doc)) throw new Error('a query document must be an object');
  const operations = arr(doc, 'Operations').map(
    (o) => `${str(o, 'Operation') || 'query'} ${str(o, 'Name')}${variables(arr(o, 'VariableDefinitions'))}${directives(o)} ${selectionSet(arr(o, 'SelectionSet'))}`,
  );
  const fragments = arr(doc, 'Fragments').map(
    (f) => `fragment ${str(f, 'Name')}${variables(arr(f, 'VariableDefinition'))} on ${str(f, 'TypeCondition')}${directives(f)} ${selectionSet(arr(f, 'SelectionSet'))}`,
  );
  return [...operations, ...fragments].join('\n');
}

const description = (o: Obj) => (str(o, 'Description') ? `${JSON.stringify(str(o, 'Description'))} ` : '');

function inputValue(a: Obj): string {
  const dflt = sub(a, 'DefaultValue');
  return `${description(a)}${str(a, 'Name')}: ${type(sub(a, 'Type'))}${dflt ? ` = ${value(dflt)}` : ''}${directives(a)}`;
}

function field(f: Obj): string {
  const params = arr(f, 'Arguments');
  const dflt = sub(f, 'DefaultValue');
  return `${description(f)}${str(f, 'Name')}${params.length ? `(${params.map(inputValue).join(', ')})` : ''}: ${type(sub(f, 'Type'))}${dflt ? ` = ${value(dflt)}` : ''}${directives(f)}`;
}

const KEYWORD: Record<string, string> = { SCALAR: 'scalar', OBJECT: 'type', INTERFACE: 'interface', UNION: 'union', ENUM: 'enum', INPUT_OBJECT: 'input' };

function definition(d: Obj, extend: boolean): string {
  const keyword = KEYWORD[str(d, 'Kind')];
  if (!keyword) throw new Error(`unknown definition kind ${str(d, 'Kind')}`);
  const interfaces = strings(d, 'Interfaces');
  const fields = arr(d, 'Fields');
  const types = strings(d, 'Types');
  const values = arr(d, 'EnumValues');
  let body = '';
  if (fields.length) body = ` { ${fields.map(field).join(' ')} }`;
  if (types.length) body = ` = ${types.join(' | ')}`;
  if (values.length) body = ` { ${values.map((v) => `${description(v)}${str(v, 'Name')}${directives(v)}`).join(' ')} }`;
  const implementsClause = interfaces.length ? ` implements ${interfaces.join(' & ')}` : '';
  return `${extend ? 'extend ' : description(d)}${keyword} ${str(d, 'Name')}${implementsClause}${directives(d)}${body}`;
}

const schemaDefinition = (s: Obj, extend: boolean) =>
  `${extend ? 'extend ' : description(s)}schema${directives(s)} { ${arr(s, 'OperationTypes').map((o) => `${str(o, 'Operation')}: ${str(o, 'Type')}`).join(' ')} }`;

export function printSchemaDocument(doc: RegoValue): string {
  if (!isObj(doc)) throw new Error('a schema document must be an object');
  return [
    ...arr(doc, 'Schema').map((s) => schemaDefinition(s, false)),
    ...arr(doc, 'SchemaExtension').map((s) => schemaDefinition(s, true)),
    ...arr(doc, 'Directives').map((d) => {
      const params = arr(d, 'Arguments');
      return `${description(d)}directive @${str(d, 'Name')}${params.length ? `(${params.map(inputValue).join(', ')})` : ''}${d.IsRepeatable === true ? ' repeatable' : ''} on ${strings(d, 'Locations').join(' | ')}`;
    }),
    ...arr(doc, 'Definitions').map((d) => definition(d, false)),
    ...arr(doc, 'Extensions').map((d) => definition(d, true)),
  ].join('\n');
}
