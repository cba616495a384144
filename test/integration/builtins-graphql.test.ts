/**
 * graphql.* host builtins against `opa eval`: every GraphQL text in OPA's own graphql conformance
 * cases (schemas and queries, valid and not) through each builtin, pairing each module's queries
 * with its schemas, plus cases of our own. One opa eval for all.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { graphqlBuiltins } from '../../src/policy/builtins/graphql.js';
import type { BuiltinContext, RegoValue } from '../../src/policy/builtins/types.js';
import { expectSameAsOpa, type BuiltinCase } from '../support/builtin-oracle.js';
import { pickOne, seededRandom } from '../support/seeded-random.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

/** OPA's graphql conformance folder in the Go module cache, if the module is there. */
function conformanceDir(): string | undefined {
  try {
    const cache = execFileSync('go', ['env', 'GOMODCACHE']).toString().trim();
    const dir = path.join(cache, 'github.com/open-policy-agent/opa@v1.19.1/v1/test/cases/testdata/v1/graphql');
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The backquoted texts of each module (Rego raw strings), grouped by module. */
function moduleTexts(dir: string): string[][] {
  const groups: string[][] = [];
  for (const file of readdirSync(dir)) {
    const doc = parseYaml(readFileSync(path.join(dir, file), 'utf8')) as { cases: { modules?: string[] }[] };
    for (const c of doc.cases) {
      for (const m of c.modules ?? []) groups.push([...m.matchAll(/`([^`]*)`/g)].map((x) => x[1]!));
    }
  }
  return groups;
}

const OWN_SCHEMA = `
  """desc""" schema { query: Query mutation: Mutation }
  directive @auth(role: String = "user") repeatable on FIELD_DEFINITION | OBJECT
  "type doc" type Query implements Node @auth { "field doc" user(id: ID!, tags: [String!] = ["a"]): User hero(episode: Episode): Character id: ID! }
  type Mutation { setName(name: String!): User }
  interface Node { id: ID! }
  interface Character { name: String }
  type User implements Character { name: String email: String friends(first: Int = 10): [User!]! }
  enum Episode { NEWHOPE "the empire" EMPIRE @deprecated(reason: "old") JEDI }
  input Filter { a: Int = 5, b: Episode, c: [Filter] }
  scalar Date
  union SearchResult = User | Query
  extend type User { born: Date }
`;
const OWN_QUERIES = [
  '{ user(id: "1") { name email } }', 'query Q($id: ID!, $f: Int = 3) @auth { user(id: $id) { friends(first: $f) { name } } }',
  '{ user(id: 1) { nope } }', '{ user { name } }', 'mutation { setName(name: "x") { name } }', 'subscription { x }',
  '{ hero(episode: EMPIRE) { name ... on User { email } } }', '{ hero { ...F } } fragment F on Character { name }',
  'fragment F on User { name } { user(id: "1") { ...F } }', '{ user(id: """block\n  text""") { name } }', 'query { id } query { id }',
  '{ user(id: "1") { name @skip(if: true) alias: email @include(if: $v) } }', '{', 'type X { a: Int }', '{ __typename __schema { types { name } } }',
  'query ($l: [Int!]! = [1, 2], $o: Filter = {a: 1, b: JEDI, c: [{a: 2}]}) { id }', '{ id(x: null) }', '{ hero { name } hero { name: id } }',
  '{ user(id: "1", nope: 1) { name } }', '{ user(id: 1.5) { name } }', '{ user(id: null) { name } }', '{ user(id: "1") }', '{ id { x } }',
  '{ user(id: "1") { ...F } } fragment F on Episode { x }', '{ id } fragment Unused on User { name }', 'query ($v: Int) { id }', '{ user(id: $undef) { name } }',
  'query ($v: Int) { user(id: $v) { name } }', 'query A { id } query A { id }', 'query A { id } { id }', '{ id @nope }', '{ id @skip }', '{ id @skip(if: true) @skip(if: false) }',
  'query @skip(if: true) { id }', '{ hero(episode: WRONG) { name } }', '{ hero(episode: "EMPIRE") { name } }', '{ user(id: "1") { friends(first: "x") { name } } }',
  'query ($f: Filter) { id }', 'query ($u: User) { id }', '{ user(id: "1") { name name: email } }', '{ ...on Query { id } }', '{ ... { id } }', 'fragment F on Query { ...F } { ...F }',
  'fragment F on Query { id } fragment F on Query { id } { ...F }', '{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }',
  '{ id(a: 1, a: 2) }', '{ ... @defer { id } }', '{ ... @defer(label: "x") { id } }', 'query ($a: Int, $a: Int) { id }', '{ user(id: "1") { name(arg: {a: 1, a: 2}) } }', 'mutation { setName { name } }',
  '# op\nquery Q(\n# var\n$id: ID!\n# var2\n$f: [Int] = # list\n[1, # one\n2]) {\n# field\nuser(\n# arg\nid: $id\n# arg2\nx: # obj\n{ # key\na: 1 }) {\n# spread\n...F\n# inline\n... on User { name }\n# last\n}\n# trailing\n}\n# frag\nfragment F on User { name }\n# eof',
];
const OWN_SCHEMAS = [OWN_SCHEMA, 'type Query { a: Int }', 'type Query { a: Undefined }', 'type Query { a: Int } type Query { b: Int }', 'extend type Foo { a: Int }',
  'type A { a: Int }', 'schema { query: Missing }', '{ a }', 'type Query { a: Int', 'enum E { A A }', 'input I { a: I! } type Query { f(i: I): Int }',
  'interface I { a: Int } type Query implements I { b: Int }', 'directive @d on NOWHERE type Query { a: Int }', 'union U = Int type Query { u: U }', '',
  'type Query { a: Int a: String }', 'interface I { a: Int } type Query implements I { a: String }', 'type Query implements Nope { a: Int }',
  'union U = A type A { a: Int } type Query { u: U }', 'enum E {} type Query { a: Int }',
  'input I { a: Query } type Query { a(i: I): Int }', 'type Query { a(x: Query): Int }', 'type Query { a: I } input I { a: Int }', 'type Query { __a: Int }',
  'type __Bad { a: Int } type Query { a: Int }', 'type Query @deprecated { a: Int }', 'type Query { a: Int @skip(if: true) }', 'scalar Int type Query { a: Int }',
  'type Query { a: Int } extend type Query { a: Int }', 'type Query { a: Int } extend type Query @nope', 'directive @d on FIELD directive @d on FIELD type Query { a: Int }',
  'type Query { a: Int @deprecated @deprecated }', 'schema { query: Query } schema { query: Query } type Query { a: Int }', 'schema { query: String }',
  'schema { mutation: M } type M { a: Int }', 'interface A implements B { a: Int } interface B { a: Int } type Query { a: Int }', 'input I @oneOf { a: Int b: Int } type Query { f(i: I): Int }',
  'type Query { a(x: Int = "s"): Int }', 'directive @skip(if: Boolean!) on FIELD type Query { a: Int }', 'directive @skip on QUERY type Query { a: Int }', 'type __Type { a: Int } type Query { a: Int }', 'type Query { a: [Int!]! = [1] }', 'extend schema { query: Query } type Query { a: Int }', 'type Query { a: Int } extend scalar Query',
  '# only a comment\n# and another', '# before\n"desc" # after\ntype Query { # f\n"fd" # fa\na(# arg\nx: Int): Int\n# end\n}\n# enum\nenum E {\n# v\nA\n"vd"\n# v2\nB\n# end\n}\n# ext\nextend type Query { b: Int }\n# dir\ndirective @d(# a\na: Int) on FIELD\n# schema\nschema { # op\nquery: Query\n# end\n}\n# input\ninput In { # f\na: Int = 1\n}\n# eof'];

function cases(): BuiltinCase[] {
  const out: BuiltinCase[] = [];
  const groups = conformanceDir() ? moduleTexts(conformanceDir()!) : [];
  groups.push([OWN_SCHEMA, ...OWN_QUERIES]);
  for (const s of OWN_SCHEMAS) groups.push([s, ...OWN_QUERIES.slice(0, 3)]);
  // AST objects instead of text: gatehouse's own parse output fed back (OPA decodes it into gqlparser's structs)
  const ctx = {} as BuiltinContext;
  const ast = (builtin: string, text: string) => graphqlBuiltins[builtin]!.fn(ctx, text) as RegoValue;
  for (const s of [OWN_SCHEMA, 'type Query { a: Int b(x: [Int!] = [1]): String }', 'type Query { a: Int }']) {
    const schemaAst = ast('graphql.parse_schema', s);
    out.push({ builtin: 'graphql.schema_is_valid', args: [schemaAst] });
    // (directives in a decoded query AST make opa eval panic: gqlparser's validator reads their missing Position)
    for (const q of [...OWN_QUERIES.slice(0, 10), '{ a }', '{ b(x: [2, 3]) }', 'query ($v: Int) { a }'].filter((x) => !x.includes('@'))) {
      let queryAst: RegoValue;
      try {
        queryAst = ast('graphql.parse_query', q);
      } catch {
        continue;
      }
      for (const b of ['graphql.is_valid', 'graphql.parse', 'graphql.parse_and_verify']) {
        out.push({ builtin: b, args: [queryAst, schemaAst] });
        out.push({ builtin: b, args: [queryAst, s] });
        out.push({ builtin: b, args: [q, schemaAst] });
      }
    }
  }
  for (const q of randomQueries()) {
    out.push({ builtin: 'graphql.parse_query', args: [q] });
    out.push({ builtin: 'graphql.parse_and_verify', args: [q, OWN_SCHEMA] });
  }
  const seen = new Set<string>();
  for (const texts of groups) {
    for (const t of texts) {
      if (seen.has(t)) continue;
      seen.add(t);
      out.push({ builtin: 'graphql.schema_is_valid', args: [t] });
      out.push({ builtin: 'graphql.parse_schema', args: [t] });
      out.push({ builtin: 'graphql.parse_query', args: [t] });
    }
    for (const q of texts) {
      for (const s of texts) {
        if (q === s) continue;
        out.push({ builtin: 'graphql.is_valid', args: [q, s] });
        out.push({ builtin: 'graphql.parse_and_verify', args: [q, s] });
        out.push({ builtin: 'graphql.parse', args: [q, s] });
      }
    }
  }
  return out;
}

/**
 * Seeded random queries over OWN_SCHEMA: mostly valid selections (fields, aliases, arguments,
 * fragments, inline fragments, variables, directives, comments) with a share of mistakes.
 */
function randomQueries(): string[] {
  const rand = seededRandom(0x6771);
  const maybe = (p: number, s: string) => (rand() < p ? s : '');
  const directive = () => maybe(0.2, pickOne(rand, [' @skip(if: true)', ' @include(if: $b)', ' @skip(if: $id)', ' @deprecated', ' @defer']));
  const userFields = (depth: number): string => {
    const picks = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
      const r = rand();
      if (r < 0.3) return `${maybe(0.2, 'n: ')}name${directive()}`;
      if (r < 0.45) return `email${maybe(0.1, '(x: 1)')}`;
      if (r < 0.6 && depth < 2) return `friends${pickOne(rand, ['', '(first: 3)', '(first: $f)', '(first: "x")'])} { ${userFields(depth + 1)} }`;
      if (r < 0.7) return '...F';
      if (r < 0.8) return `... on ${pickOne(rand, ['User', 'Character', 'Query'])} { name }`;
      if (r < 0.9) return '__typename';
      return pickOne(rand, ['nope', 'id', 'friends', '# c\nname']);
    });
    return picks.join(' ');
  };
  const top = () => {
    const r = rand();
    if (r < 0.4) return `${maybe(0.2, 'u: ')}user(id: ${pickOne(rand, ['"1"', '$id', '1', 'null', '"""b\n  c"""'])}) { ${userFields(0)} }`;
    if (r < 0.65) return `hero${pickOne(rand, ['', '(episode: EMPIRE)', '(episode: WRONG)', '(episode: $e)'])} { name ${maybe(0.3, '... on User { email }')} }`;
    if (r < 0.8) return `id${directive()}`;
    if (r < 0.9) return '__typename';
    return pickOne(rand, ['user { name }', 'nope', 'hero', 'setName(name: "x") { name }']);
  };
  return Array.from({ length: 300 }, () => {
    const vars = maybe(0.5, `(${pickOne(rand, ['$id: ID!', '$id: ID', '$f: Int = 2', '$b: Boolean!', '$id: ID!, $b: Boolean = false, $f: Int', '$e: Episode = JEDI'])})`);
    const head = rand() < 0.3 ? '' : `${pickOne(rand, ['query', 'query Q', 'query Q', 'mutation', 'subscription S'])}${vars} `;
    const fragment = maybe(0.4, `\nfragment F on ${pickOne(rand, ['User', 'User', 'Character', 'Query'])} { name }`);
    return `${head}{ ${Array.from({ length: 1 + Math.floor(rand() * 2) }, top).join(' ')} }${fragment}`;
  });
}

describe.skipIf(tool.skip)('graphql.* against opa eval', () => {
  it('gives the results OPA gives', () => {
    expectSameAsOpa(tool.opa, cases(), { minDefined: 0.33, someUndefined: true });
  }, 120_000);
});
