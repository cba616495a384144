/**
 * Host builtins: graphql.is_valid, graphql.parse, graphql.parse_and_verify, graphql.parse_query,
 * graphql.parse_schema, graphql.schema_is_valid (topdown/graphql.go). OPA parses and validates with
 * gqlparser; gatehouse with graphql-js (parse, buildASTSchema, validateSchema, validate with the
 * specified rules) and returns gqlparser's AST shape (graphql-ast.ts).
 */
import {
  buildASTSchema,
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  isObjectType,
  Kind,
  parse,
  specifiedRules,
  validate,
  validateSchema,
  type ValidationRule,
} from 'graphql';
import { queryDocumentValue } from './graphql-ast.js';
import { schemaDocumentValue } from './graphql-schema-ast.js';
import { printQueryDocument, printSchemaDocument } from './graphql-print.js';
import { BuiltinError, rethrowExhaustion, type BuiltinFamily, type RegoValue } from './types.js';
import { newObject, typeName } from './args.js';
import { BoundedMemo } from './bounded-memo.js';

const EXECUTABLE = new Set<string>([Kind.OPERATION_DEFINITION, Kind.FRAGMENT_DEFINITION]);

/** Source text with nothing but ignored tokens (whitespace, commas, comments) parses to an empty document in gqlparser. */
const ONLY_IGNORED = /^(?:[\s,\ufeff]|#[^\n\r]*)*$/;

function parseDocument(text: string): DocumentNode {
  if (ONLY_IGNORED.test(text)) return { kind: Kind.DOCUMENT, definitions: [] };
  // locations kept: block strings are re-read from the source (gqlparser's indentation rule)
  return parse(text, { allowLegacyFragmentVariables: true });
}

/** gqlparser.ParseQuery: executable definitions only. */
function parseQueryText(text: string): DocumentNode {
  const doc = parseDocument(text);
  if (doc.definitions.some((d) => !EXECUTABLE.has(d.kind))) throw new Error('a query document holds only operations and fragments');
  return doc;
}

/** gqlparser.ParseSchema: type-system definitions only. */
function parseSchemaText(text: string): DocumentNode {
  const doc = parseDocument(text);
  if (doc.definitions.some((d) => EXECUTABLE.has(d.kind))) throw new Error('a schema document holds only type system definitions');
  return doc;
}

/** graphql-js schema rules that gqlparser does not have. */
const LAX = [/^Query root type must be provided\.$/, /within itself through a series of non-null fields/, /root type must be Object type/];

/** Types of gqlparser's prelude: a schema may not declare them again. */
const PRELUDE_TYPES = new Set(['Int', 'Float', 'String', 'Boolean', 'ID', '__Schema', '__Type', '__TypeKind', '__Field', '__InputValue', '__EnumValue', '__Directive', '__DirectiveLocation']);
/** Directives of the prelude: a schema may declare them again, and the prelude's stay. */
const PRELUDE_DIRECTIVES = new Set(['include', 'skip', 'deprecated', 'specifiedBy', 'defer', 'oneOf']);
/** gqlparser's prelude has @defer, which graphql-js 16 does not define. */
const DEFER = parse('directive @defer(if: Boolean = true, label: String) on FRAGMENT_SPREAD | INLINE_FRAGMENT').definitions[0]!;

const EXTENSION_TO_DEFINITION: Partial<Record<Kind, Kind>> = {
  [Kind.SCALAR_TYPE_EXTENSION]: Kind.SCALAR_TYPE_DEFINITION,
  [Kind.OBJECT_TYPE_EXTENSION]: Kind.OBJECT_TYPE_DEFINITION,
  [Kind.INTERFACE_TYPE_EXTENSION]: Kind.INTERFACE_TYPE_DEFINITION,
  [Kind.UNION_TYPE_EXTENSION]: Kind.UNION_TYPE_DEFINITION,
  [Kind.ENUM_TYPE_EXTENSION]: Kind.ENUM_TYPE_DEFINITION,
  [Kind.INPUT_OBJECT_TYPE_EXTENSION]: Kind.INPUT_OBJECT_TYPE_DEFINITION,
};

/** gqlparser lets an extension define a type nobody defined: the first such extension becomes the definition. */
function asGqlparserSchema(doc: DocumentNode): DocumentNode {
  for (const d of doc.definitions) {
    if ('name' in d && d.name && !(d.kind in EXTENSION_TO_DEFINITION) && d.kind !== Kind.DIRECTIVE_DEFINITION && PRELUDE_TYPES.has(d.name.value)) {
      throw new Error(`Cannot redeclare type ${d.name.value}.`);
    }
  }
  const ownDefinitions = doc.definitions.filter((d) => !(d.kind === Kind.DIRECTIVE_DEFINITION && PRELUDE_DIRECTIVES.has(d.name.value)));
  doc = { ...doc, definitions: [...ownDefinitions, DEFER] };
  const defined = new Set(doc.definitions.flatMap((d) => ('name' in d && d.name && !(d.kind in EXTENSION_TO_DEFINITION) ? [d.name.value] : [])));
  const definitions = doc.definitions.map((d) => {
    const kind = EXTENSION_TO_DEFINITION[d.kind];
    if (!kind || !('name' in d) || !d.name || defined.has(d.name.value)) return d;
    defined.add(d.name.value);
    return { ...d, kind } as unknown as typeof d;
  });
  return { ...doc, definitions };
}

interface ParsedSchema {
  doc: DocumentNode;
  value: RegoValue;
  /** The validated schema, or the error that made it invalid. */
  schema: GraphQLSchema | Error;
}

/** Parsed schemas by their text, bounded (oldest out first): policies pass the same schema each time. */
const schemas = new BoundedMemo<ParsedSchema>(32, 4 << 20);

function loadSchema(text: string): ParsedSchema {
  return schemas.get(text, () => parseSchema(text));
}

function parseSchema(text: string): ParsedSchema {
  const doc = parseSchemaText(text);
  let schema: GraphQLSchema | Error;
  try {
    const lenient = asGqlparserSchema(doc);
    const errors = validateSchema(buildASTSchema(lenient)).filter((e) => !LAX.some((re) => re.test(e.message)));
    // built again as valid, so that queries can be checked against a schema without a Query type
    schema = errors.length > 0 ? new Error(errors[0]!.message) : buildASTSchema(lenient, { assumeValid: true });
  } catch (error) {
    rethrowExhaustion(error);
    schema = error as Error;
  }
  return { doc, value: schemaDocumentValue(doc, text), schema };
}

/** The text of a query or schema operand: a string, or (where OPA takes one) an AST object printed back. */
function textOf(builtin: string, position: number, value: RegoValue | undefined, ast?: 'query' | 'schema'): string {
  if (typeof value === 'string') return value;
  if (ast && value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Set) && !(value instanceof Map)) {
    return ast === 'query' ? printQueryDocument(value) : printSchemaDocument(value);
  }
  throw new BuiltinError(builtin, `operand ${position} must be ${ast ? 'string or object' : 'string'} but got ${typeName(value)}`);
}

function validSchema(parsed: ParsedSchema): GraphQLSchema {
  if (parsed.schema instanceof Error) throw parsed.schema;
  return parsed.schema;
}

/** gqlparser's KnownRootType: an operation needs its root type in the schema, and an object type there. */
const KnownRootType: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (!isObjectType(context.getSchema().getRootType(node.operation))) {
      context.reportError(new GraphQLError(`Schema does not support operation type "${node.operation}"`, { nodes: node }));
    }
  },
});

const RULES = [...specifiedRules, KnownRootType];

function validateQuery(schema: GraphQLSchema, query: DocumentNode): void {
  const errors = validate(schema, query, RULES);
  if (errors.length > 0) throw new Error(errors[0]!.message);
}

/** [query AST, schema AST] for a valid query, else throws. */
function parseAndValidate(builtin: string, queryArg: RegoValue | undefined, schemaArg: RegoValue | undefined): [RegoValue, RegoValue] {
  const query = parseQueryText(textOf(builtin, 1, queryArg, 'query'));
  const schema = loadSchema(textOf(builtin, 2, schemaArg, 'schema'));
  validateQuery(validSchema(schema), query);
  return [queryDocumentValue(query), schema.value];
}

const wrap = (builtin: string, f: () => RegoValue): RegoValue => {
  try {
    return f();
  } catch (error) {
    rethrowExhaustion(error);
    if (error instanceof BuiltinError) throw error;
    throw new BuiltinError(builtin, (error as Error).message);
  }
};

const succeeds = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch (error) {
    rethrowExhaustion(error);
    return false;
  }
};

const PARSED = 'Parsed and validated by graphql-js with gqlparser\'s leniencies (error texts differ from gqlparser\'s; enum values named true, false or null are refused where gqlparser parses them).';
const AST_INPUT = `${PARSED} AST objects given instead of text are printed back to GraphQL first, every selection as a field as gqlparser decodes them.`;

export const graphqlBuiltins: BuiltinFamily = {
  'graphql.parse': {
    fn: (_ctx, query, schema) => wrap('graphql.parse', () => parseAndValidate('graphql.parse', query, schema)),
    note: AST_INPUT,
  },
  'graphql.parse_and_verify': {
    fn: (_ctx, query, schema) => {
      try {
        return [true, ...parseAndValidate('graphql.parse_and_verify', query, schema)];
      } catch (error) {
        rethrowExhaustion(error);
        return [false, newObject(), newObject()];
      }
    },
    note: AST_INPUT,
  },
  'graphql.parse_query': {
    fn: (_ctx, query) => wrap('graphql.parse_query', () => queryDocumentValue(parseQueryText(textOf('graphql.parse_query', 1, query)))),
    note: PARSED,
  },
  'graphql.parse_schema': {
    fn: (_ctx, schema) => wrap('graphql.parse_schema', () => loadSchema(textOf('graphql.parse_schema', 1, schema)).value),
    note: PARSED,
  },
  'graphql.is_valid': {
    fn: (_ctx, query, schema) => succeeds(() => parseAndValidate('graphql.is_valid', query, schema)),
    note: AST_INPUT,
  },
  'graphql.schema_is_valid': {
    fn: (_ctx, schema) => succeeds(() => validSchema(loadSchema(textOf('graphql.schema_is_valid', 1, schema, 'schema')))),
    note: AST_INPUT,
  },
};
