/**
 * Schema documents in the JSON shape OPA returns for graphql.parse_schema and the schema half of
 * graphql.parse: gqlparser's SchemaDocument (Schema, SchemaExtension, Directives, Definitions,
 * Extensions), with gqlparser's description and comment placement. See graphql-ast.ts.
 */
import {
  type ConstDirectiveNode,
  type DefinitionNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  Kind,
  type Location,
  type OperationTypeDefinitionNode,
  type StringValueNode,
  TokenKind,
} from 'graphql';
import { commentsBefore, directives, endComment, list, obj, startComment, stringText, type, value } from './graphql-ast.js';
import type { RegoObject, RegoValue } from './types.js';

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
