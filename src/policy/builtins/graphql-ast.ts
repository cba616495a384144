/**
 * graphql-js's AST rewritten into the JSON shape OPA returns: gqlparser's Go structs
 * (github.com/vektah/gqlparser/v2/ast) as encoding/json writes them, with OPA's pruning applied
 * (no Position, no null, no empty list or object). Field names, defaults ("Alias" is the field
 * name when there is no alias, "Used": false, "Location": "", "BuiltIn": false) and the value
 * kinds follow gqlparser. https://pkg.go.dev/github.com/vektah/gqlparser/v2/ast
 */
import {
  type ArgumentNode,
  type ConstDirectiveNode,
  type DefinitionNode,
  type DirectiveNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  Kind,
  type Location,
  type OperationTypeDefinitionNode,
  type Token,
  TokenKind,
  type SelectionSetNode,
  type StringValueNode,
  type TypeNode,
  type ValueNode,
  type VariableDefinitionNode,
} from 'graphql';
import { newObject } from './args.js';
import type { RegoObject, RegoValue } from './types.js';

/** An object with only the entries OPA keeps (pruneIrrelevantGraphQLASTNodes). */
function obj(entries: Record<string, RegoValue | undefined>): RegoObject {
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
function stringText(v: StringValueNode): string {
  if (!v.block || !v.loc) return v.value;
  return gqlparserBlockString(v.loc.source.body.slice(v.loc.start + 3, v.loc.end - 3));
}

/**
 * gqlparser's comment groups: the comments right before a token (the parser's `p.comment` when it
 * peeks that token), as {"List": [{"Value": "# text"}]}.
 */
function commentsBefore(token: Token | null | undefined): RegoObject | undefined {
  const found: RegoValue[] = [];
  for (let t = token?.prev; t && t.kind === TokenKind.COMMENT; t = t.prev) found.unshift(obj({ Value: `#${t.value}` }));
  return found.length > 0 ? obj({ List: found }) : undefined;
}

const startComment = (loc: Location | undefined) => commentsBefore(loc?.startToken);

/** Comments before a definition's closing brace (gqlparser's EndOfDefinitionComment). */
const endComment = (loc: Location | undefined) => (loc?.endToken.kind === TokenKind.BRACE_R ? commentsBefore(loc.endToken) : undefined);

const list = <T>(items: readonly T[] | undefined, f: (item: T) => RegoValue): RegoValue[] | undefined => items?.map(f);

/** gqlparser's ValueKind numbers. */
const VALUE_KIND: Partial<Record<Kind, number>> = {
  [Kind.VARIABLE]: 0, [Kind.INT]: 1, [Kind.FLOAT]: 2, [Kind.STRING]: 3, [Kind.BOOLEAN]: 5, [Kind.NULL]: 6, [Kind.ENUM]: 7,
  [Kind.LIST]: 8, [Kind.OBJECT]: 9,
};

function value(v: ValueNode): RegoObject {
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

function type(t: TypeNode): RegoObject {
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
const directives = (ds: readonly (DirectiveNode | ConstDirectiveNode)[] | undefined) => list(ds, directive);

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

const description = (d: { description?: StringValueNode | undefined }) => (d.description ? stringText(d.description) : '');

/**
 * Before/AfterDescriptionComment of a field, argument, input field or enum value: the comments
 * before a non-empty description, and those before the name.
 */
function memberComments(n: { description?: StringValueNode | undefined; name: { loc?: Location | undefined } }) {
  const described = n.description && stringText(n.description) !== '';
  return {
    BeforeDescriptionComment: described ? startComment(n.description!.loc) : undefined,
    AfterDescriptionComment: startComment(n.name.loc),
  };
}

/** Before/AfterDescriptionComment of a definition: before its description token, and before its keyword. */
function definitionComments(n: { description?: StringValueNode | undefined; loc?: Location | undefined }) {
  let keyword = n.description ? n.description.loc?.endToken.next : n.loc?.startToken;
  while (keyword?.kind === TokenKind.COMMENT) keyword = keyword.next;
  return { BeforeDescriptionComment: n.description ? startComment(n.description.loc) : undefined, AfterDescriptionComment: commentsBefore(keyword) };
}

const argumentDefinition = (a: InputValueDefinitionNode) =>
  obj({
    ...memberComments(a),
    Description: description(a),
    Name: a.name.value,
    DefaultValue: a.defaultValue ? value(a.defaultValue) : undefined,
    Type: type(a.type),
    Directives: directives(a.directives),
  });

const fieldDefinition = (f: FieldDefinitionNode | InputValueDefinitionNode) =>
  obj({
    ...memberComments(f),
    Description: description(f),
    Name: f.name.value,
    Arguments: 'arguments' in f ? list(f.arguments, argumentDefinition) : undefined,
    DefaultValue: 'defaultValue' in f && f.defaultValue ? value(f.defaultValue) : undefined,
    Type: type(f.type),
    Directives: directives(f.directives),
  });

const operationTypes = (ops: readonly OperationTypeDefinitionNode[] | undefined) =>
  list(ops, (o) => obj({ Operation: o.operation, Type: o.type.name.value, Comment: startComment(o.loc) }));

const DEFINITION_KIND: Partial<Record<Kind, string>> = {
  [Kind.SCALAR_TYPE_DEFINITION]: 'SCALAR', [Kind.SCALAR_TYPE_EXTENSION]: 'SCALAR',
  [Kind.OBJECT_TYPE_DEFINITION]: 'OBJECT', [Kind.OBJECT_TYPE_EXTENSION]: 'OBJECT',
  [Kind.INTERFACE_TYPE_DEFINITION]: 'INTERFACE', [Kind.INTERFACE_TYPE_EXTENSION]: 'INTERFACE',
  [Kind.UNION_TYPE_DEFINITION]: 'UNION', [Kind.UNION_TYPE_EXTENSION]: 'UNION',
  [Kind.ENUM_TYPE_DEFINITION]: 'ENUM', [Kind.ENUM_TYPE_EXTENSION]: 'ENUM',
  [Kind.INPUT_OBJECT_TYPE_DEFINITION]: 'INPUT_OBJECT', [Kind.INPUT_OBJECT_TYPE_EXTENSION]: 'INPUT_OBJECT',
};

function typeDefinition(d: DefinitionNode): RegoObject {
  const n = d as DefinitionNode & {
    name: { value: string };
    description?: StringValueNode;
    directives?: readonly ConstDirectiveNode[];
    interfaces?: readonly { name: { value: string } }[];
    fields?: readonly (FieldDefinitionNode | InputValueDefinitionNode)[];
    types?: readonly { name: { value: string } }[];
    values?: readonly { name: { value: string; loc?: Location }; description?: StringValueNode; directives?: readonly ConstDirectiveNode[] }[];
    loc?: Location;
  };
  const extension = d.kind.endsWith('Extension');
  return obj({
    ...(extension ? { AfterDescriptionComment: startComment(n.loc) } : definitionComments(n)),
    EndOfDefinitionComment: n.fields || n.values ? endComment(n.loc) : undefined,
    Kind: DEFINITION_KIND[d.kind]!,
    Description: description(n),
    Name: n.name.value,
    Directives: directives(n.directives),
    Interfaces: list(n.interfaces, (i) => i.name.value),
    Fields: list(n.fields, fieldDefinition),
    Types: list(n.types, (t) => t.name.value),
    EnumValues: list(n.values, (v) => obj({ ...memberComments(v), Description: description(v), Name: v.name.value, Directives: directives(v.directives) })),
    BuiltIn: false,
  });
}

/** The comments before the end of the source (gqlparser's SchemaDocument.Comment). */
function endOfFileComment(doc: DocumentNode, text: string): RegoObject | undefined {
  let t = doc.loc?.endToken;
  if (!t) {
    const found = [...text.matchAll(/#([^\n\r]*)/g)].map((m) => obj({ Value: `#${m[1]}` }));
    return found.length > 0 ? obj({ List: found }) : undefined;
  }
  while (t.next) t = t.next;
  return commentsBefore(t);
}

/** A type-system document as gqlparser's SchemaDocument. */
export function schemaDocumentValue(doc: DocumentNode, text: string): RegoObject {
  const schema: RegoValue[] = [];
  const schemaExtension: RegoValue[] = [];
  const directiveDefs: RegoValue[] = [];
  const definitions: RegoValue[] = [];
  const extensions: RegoValue[] = [];
  for (const d of doc.definitions) {
    switch (d.kind) {
      case Kind.SCHEMA_DEFINITION:
        schema.push(
          obj({
            ...definitionComments(d),
            EndOfDefinitionComment: endComment(d.loc),
            Description: description(d),
            Directives: directives(d.directives),
            OperationTypes: operationTypes(d.operationTypes),
          }),
        );
        break;
      case Kind.SCHEMA_EXTENSION:
        schemaExtension.push(
          obj({
            AfterDescriptionComment: startComment(d.loc),
            EndOfDefinitionComment: endComment(d.loc),
            Description: '',
            Directives: directives(d.directives),
            OperationTypes: operationTypes(d.operationTypes),
          }),
        );
        break;
      case Kind.DIRECTIVE_DEFINITION:
        directiveDefs.push(
          obj({
            ...definitionComments(d),
            Description: description(d),
            Name: d.name.value,
            Arguments: list(d.arguments, argumentDefinition),
            Locations: d.locations.map((l) => l.value),
            IsRepeatable: d.repeatable,
          }),
        );
        break;
      default:
        if (d.kind.endsWith('Extension')) extensions.push(typeDefinition(d));
        else definitions.push(typeDefinition(d));
    }
  }
  return obj({
    Schema: schema,
    SchemaExtension: schemaExtension,
    Directives: directiveDefs,
    Definitions: definitions,
    Extensions: extensions,
    Comment: endOfFileComment(doc, text),
  });
}
