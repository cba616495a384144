/**
 * The one list of what gatehouse evaluates. Every builtin of OPA v1.19.1 is in exactly one place:
 * - WASM_NATIVE_BUILTINS: OPA's Wasm compiler builds it into policy.wasm (measured: a policy calling
 *   every builtin, `opa build -t wasm`, and the builtins the module still imports from its host;
 *   test/unit/builtin-catalogue.test.ts measures it again with the pinned OPA);
 * - HOST_BUILTINS: the Wasm module imports it and gatehouse implements it (one family per file here);
 * - REFUSED_BUILTINS: it cannot run synchronously inside an evaluation, with the reason and what to do.
 * `gatehouse build` derives its OPA capabilities from this, the load-time check refuses a bundle
 * importing anything outside HOST_BUILTINS, `gatehouse builtins` and docs/policies.md list it, and the
 * cache analysis takes the nondeterministic flags from it.
 */
import { awsBuiltins } from './aws.js';
import { cryptoBuiltins } from './crypto.js';
import { encodingBuiltins } from './encoding.js';
import { graphBuiltins } from './graph.js';
import { graphqlBuiltins } from './graphql.js';
import { jsonBuiltins } from './json.js';
import { jwtBuiltins } from './jwt.js';
import { netBuiltins } from './net.js';
import { numbersBuiltins } from './numbers.js';
import { objectBuiltins } from './object.js';
import { opaBuiltins } from './opa.js';
import { regexBuiltins } from './regex.js';
import { semverBuiltins } from './semver.js';
import { stringsBuiltins } from './strings.js';
import { timeBuiltins } from './time.js';
import type { BuiltinFamily, HostBuiltin } from './types.js';
import { unitsBuiltins } from './units.js';
import { uuidBuiltins } from './uuid.js';
import { yamlBuiltins } from './yaml.js';

/** The OPA version whose builtins this catalogue covers (the pinned compiler). */
export const OPA_VERSION = '1.19.1';

/** Builtins OPA v1.19.1 compiles into policy.wasm: nothing for the host to do. */
export const WASM_NATIVE_BUILTINS: readonly string[] = [
  'abs', 'all', 'and', 'any', 'array.concat', 'array.flatten', 'array.reverse', 'array.slice', 'assign',
  'base64.decode', 'base64.encode', 'base64.is_valid', 'base64url.decode', 'base64url.encode', 'bits.and',
  'bits.lsh', 'bits.negate', 'bits.or', 'bits.rsh', 'bits.xor', 'ceil', 'concat', 'contains', 'count', 'div',
  'endswith', 'eq', 'equal', 'floor', 'format_int', 'glob.match', 'graph.reachable', 'gt', 'gte', 'indexof',
  'internal.member_2', 'internal.member_3', 'internal.template_string', 'internal.test_case',
  'intersection', 'is_array', 'is_boolean', 'is_null', 'is_number', 'is_object', 'is_set', 'is_string',
  'json.filter', 'json.is_valid', 'json.marshal', 'json.remove', 'json.unmarshal', 'lower', 'lt', 'lte', 'max',
  'min', 'minus', 'mul', 'neq', 'net.cidr_contains', 'net.cidr_intersects', 'net.cidr_overlap', 'numbers.range',
  'object.filter', 'object.get', 'object.keys', 'object.remove', 'object.union', 'object.union_n', 'or', 'plus',
  'product', 're_match', 'regex.find_all_string_submatch_n', 'regex.is_valid', 'regex.match',
  'rego.metadata.chain', 'rego.metadata.rule', 'rem', 'replace', 'round', 'set_diff', 'sort', 'split',
  'startswith', 'strings.replace_n', 'strings.reverse', 'substring', 'sum', 'to_number', 'trim', 'trim_left',
  'trim_prefix', 'trim_right', 'trim_space', 'trim_suffix', 'type_name', 'union', 'upper', 'walk',
];

const FAMILIES: readonly BuiltinFamily[] = [
  awsBuiltins, cryptoBuiltins, encodingBuiltins, graphBuiltins, graphqlBuiltins, jsonBuiltins, jwtBuiltins,
  netBuiltins, numbersBuiltins, objectBuiltins, opaBuiltins, regexBuiltins, semverBuiltins, stringsBuiltins,
  timeBuiltins, unitsBuiltins, uuidBuiltins, yamlBuiltins,
];

/** Builtins the Wasm module imports and gatehouse implements in TypeScript. */
export const HOST_BUILTINS: ReadonlyMap<string, HostBuiltin> = (() => {
  const all = new Map<string, HostBuiltin>();
  for (const family of FAMILIES) {
    for (const [name, builtin] of Object.entries(family)) {
      if (all.has(name)) throw new Error(`host builtin ${name} is defined twice`);
      all.set(name, builtin);
    }
  }
  return all;
})();

const PRECOMPUTE = 'compute the value outside the evaluation and hand it to the policy as bundle data (data.json) or through Envoy (metadata_context, context_extensions, a header set by an earlier filter)';

/** Builtins gatehouse refuses at build and load, with why and what to do instead. */
export const REFUSED_BUILTINS: ReadonlyMap<string, string> = new Map([
  ['http.send', `it makes a network call in the middle of a Check; Wasm evaluation is synchronous, so one slow server would stall every Check. Instead, ${PRECOMPUTE}`],
  ['net.lookup_ip_addr', `it resolves DNS in the middle of a Check; Wasm evaluation is synchronous, so a slow resolver would stall every Check. Instead, ${PRECOMPUTE}`],
  ['rego.parse_module', 'it needs OPA\'s Rego parser, which only exists in Go; parse modules when the bundle is built instead'],
]);

export type BuiltinSupport =
  | { kind: 'native' }
  | { kind: 'host'; builtin: HostBuiltin }
  | { kind: 'refused'; reason: string }
  | { kind: 'unknown' };

const NATIVE = new Set(WASM_NATIVE_BUILTINS);

/** How gatehouse evaluates the builtin `name` (as OPA names it, e.g. "io.jwt.decode_verify"). */
export function builtinSupport(name: string): BuiltinSupport {
  // `print(...)` calls compile (with --wasm-include-print) to the host builtin internal.print.
  if (name === 'print') return builtinSupport('internal.print');
  if (NATIVE.has(name)) return { kind: 'native' };
  const builtin = HOST_BUILTINS.get(name);
  if (builtin) return { kind: 'host', builtin };
  const reason = REFUSED_BUILTINS.get(name);
  if (reason) return { kind: 'refused', reason };
  return { kind: 'unknown' };
}

/** Every builtin a policy may call (native or host). */
export function isSupportedBuiltin(name: string): boolean {
  const kind = builtinSupport(name).kind;
  return kind === 'native' || kind === 'host';
}

/**
 * Whether a call's result can differ between two evaluations of the same input (the clock,
 * randomness, the network, the runtime): such policies are not cached unless the operator opts in.
 */
export function isNondeterministicBuiltin(name: string): boolean {
  return HOST_BUILTINS.get(name)?.nondeterministic === true || REFUSED_BUILTINS.has(name);
}

/** Why a builtin is not available, for build and load errors. */
export function unsupportedReason(name: string): string {
  const support = builtinSupport(name);
  if (support.kind === 'refused') return support.reason;
  return `not implemented by gatehouse (run "gatehouse builtins" for the list it evaluates)`;
}
