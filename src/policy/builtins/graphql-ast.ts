/**
 * graphql-js's AST rewritten into the JSON shape OPA returns (query documents here, schema
 * documents in graphql-schema-ast.ts): gqlparser's Go structs
 * (github.com/vektah/gqlparser/v2/ast) as encoding/json writes them, with OPA's pruning applied
 * (no Position, no null, no empty list or object). Field names, defaults ("Alias" is the field
 * name when there is no alias, "Used": false, "Location": "", "BuiltIn": false) and the value
 * kinds follow gqlparser. https://pkg.go.dev/github.com/vektah/gqlparser/v2/ast
 */
import {
  type ArgumentNode,
  type ConstDirectiveNode,
  type DirectiveNode,
  type DocumentNode,
  Kind,
  type Location,
  type SelectionSetNode,
  type StringValueNode,
  type Token,
  TokenKind,
  type TypeNode,
  type ValueNode,
  type VariableDefinitionNode,
} from 'graphql';
import { newObject } from './args.js';
import type { RegoObject, RegoValue } from './types.js';

/** An object with only the entries OPA keeps (pruneIrrelevantGraphQLASTNodes). */
export function obj(entries: Record<string, RegoValue | undefined>): RegoObject {
  const out = newObject();
  for (const [k, v] of Object.entries(entries)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out;
}

/**
 * gqlparser's blockStringValue: like the spec's, except that the first line counts towards the
 * common indentation. Applied to the block string's raw text (between the triple quotes).
 */
export function gqlparserBlockString(raw: string): string {
  const lines = raw.replaceAll('\\"""', '"""').split('\n');
  const leading = (line: string) => {
    const m = /^[ \t]*/.exec(line)![0].length;
    return m === line.length ? Infinity : m;
  };
  let common = Infinity;
  for (const line of lines) {
    const indent = leading(line);
    if (indent < common) common = indent;
    if (common === 0) break;
  }
  if (common !== Infinity) for (let i = 1; i < lines.length; i++) lines[i] = lines[i]!.length < common ? '' : lines[i]!.slice(common);
  let start = 0;
  let end = lines.length;
  while (start < end && leading(lines[start]!) === Infinity) start++;
  while (start < end && leading(lines[end - 1]!) === Infinity) end--;
  return lines.slice(start, end).join('\n');
}

/** A string value's text: block strings re-read from the source with gqlparser's rule. */
export function stringText(v: StringValueNode): string {
  if (!v.block || !v.loc) return v.value;
  return gqlparserBlockString(v.loc.source.body.slice(v.loc.start + 3, v.loc.end - 3));
}

/**
 * gqlparser's comment groups: the comments right before a token (the parser's `p.comment` when it
 * peeks that token), as {"List": [{"Value": "# text"}]}.
 */
export function commentsBefore(token: Token | null | undefined): RegoObject | undefined {
  const found: RegoValue[] = [];
  for (let t = token?.prev; t && t.kind === TokenKind.COMMENT; t = t.prev) found.unshift(obj({ Value: `#${t.value}` }));
  return found.length > 0 ? obj({ List: found }) : undefined;
}

export const startComment = (loc: Location | undefined) => commentsBefore(loc?.startToken);

/** Comments before a definition's closing brace (gqlparser's EndOfDefinitionComment). */
export const endComment = (loc: Location | undefined) => (loc?.endToken.kind === TokenKind.BRACE_R ? commentsBefore(loc.endToken) : undefined);

export const list = <T>(items: readonly T[] | undefined, f: (item: T) => RegoValue): RegoValue[] | undefined => items?.map(f);

/** gqlparser's ValueKind numbers. */
const VALUE_KIND: Partial<Record<Kind, number>> = {
  [Kind.VARIABLE]: 0, [Kind.INT]: 1, [Kind.FLOAT]: 2, [Kind.STRING]: 3, [Kind.BOOLEAN]: 5, [Kind.NULL]: 6, [Kind.ENUM]: 7,
  [Kind.LIST]: 8, [Kind.OBJECT]: 9,
};

export function value(v: ValueNode): RegoObject {
  let raw = '';
  let children: RegoValue[] | undefined;
  let kind = VALUE_KIND[v.kind]!;
  switch (v.kind) {
    case Kind.VARIABLE:
      raw = v.name.value;
      break;
    case Kind.INT:
    case Kind.FLOAT:
    case Kind.ENUM:
      raw = v.value;
      break;
    case Kind.STRING:
      raw = stringText(v);
      if (v.block) kind = 4;
      break;
    case Kind.BOOLEAN:
      raw = v.value ? 'true' : 'false';
      break;
    case Kind.NULL:
      raw = 'null';
      break;
    case Kind.LIST:
      children = v.values.map((item) => obj({ Name: '', Value: value(item) }));
      break;
    case Kind.OBJECT:
      children = v.fields.map((f) => obj({ Name: f.name.value, Value: value(f.value), Comment: startComment(f.loc) }));
      break;
  }
  const comment = v.kind === Kind.VARIABLE || v.kind === Kind.LIST || v.kind === Kind.OBJECT ? startComment(v.loc) : undefined;
  return obj({ Raw: raw, Children: children, Kind: kind, Comment: comment, ExpectedTypeHasDefault: false });
}

export function type(t: TypeNode): RegoObject {
  if (t.kind === Kind.NON_NULL_TYPE) {
    const inner = type(t.type);
    inner.NonNull = true;
    return inner;
  }
  if (t.kind === Kind.LIST_TYPE) return obj({ NamedType: '', Elem: type(t.type), NonNull: false });
  return obj({ NamedType: t.name.value, NonNull: false });
}

const argument = (a: ArgumentNode) => obj({ Name: a.name.value, Value: value(a.value), Comment: startComment(a.loc) });
const directive = (d: DirectiveNode | ConstDirectiveNode) => obj({ Name: d.name.value, Arguments: list(d.arguments, argument), Location: '' });
export const directives = (ds: readonly (DirectiveNode | ConstDirectiveNode)[] | undefined) => list(ds, directive);

function selectionSet(s: SelectionSetNode | undefined): RegoValue[] | undefined {
  return s?.selections.map((sel) => {
    switch (sel.kind) {
      case Kind.FIELD:
        return obj({
          Alias: (sel.alias ?? sel.name).value,
          Name: sel.name.value,
          Arguments: list(sel.arguments, argument),
          Directives: directives(sel.directives),
          SelectionSet: selectionSet(sel.selectionSet),
          Comment: startComment(sel.loc),
        });
      case Kind.FRAGMENT_SPREAD:
        return obj({ Name: sel.name.value, Directives: directives(sel.directives), Comment: startComment(sel.loc) });
      default:
        return obj({
          TypeCondition: sel.typeCondition?.name.value ?? '',
          Directives: directives(sel.directives),
          SelectionSet: selectionSet(sel.selectionSet),
          Comment: startComment(sel.loc),
        });
    }
  });
}

const variableDefinition = (v: VariableDefinitionNode) =>
  obj({
    Variable: v.variable.name.value,
    Type: type(v.type),
    DefaultValue: v.defaultValue ? value(v.defaultValue) : undefined,
    Directives: directives(v.directives),
    Comment: startComment(v.loc),
    Used: false,
  });

/** A query document (operations and fragments only) as gqlparser's QueryDocument. */
export function queryDocumentValue(doc: DocumentNode): RegoObject {
  const operations: RegoValue[] = [];
  const fragments: RegoValue[] = [];
  for (const d of doc.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION) {
      operations.push(
        obj({
          Operation: d.operation,
          Name: d.name?.value ?? '',
          VariableDefinitions: list(d.variableDefinitions, variableDefinition),
          Directives: directives(d.directives),
          SelectionSet: selectionSet(d.selectionSet),
          // gqlparser keeps no comment on a shorthand `{ ... }` operation
          Comment: d.loc?.startToken.kind === TokenKind.BRACE_L ? undefined : startComment(d.loc),
        }),
      );
    } else if (d.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.push(
        obj({
          Name: d.name.value,
          VariableDefinition: list(d.variableDefinitions, variableDefinition),
          TypeCondition: d.typeCondition.name.value,
          Directives: directives(d.directives),
          SelectionSet: selectionSet(d.selectionSet),
          Comment: startComment(d.loc),
        }),
      );
    }
  }
  return obj({ Operations: operations, Fragments: fragments });
}

