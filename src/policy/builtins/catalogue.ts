/**
 * The one list of what gatehouse evaluates. Every builtin of OPA v1.19.1 is in exactly one place:
 * - WASM_NATIVE_BUILTINS: OPA's Wasm compiler builds it into policy.wasm (measured: a policy calling
 *   every builtin, `opa build -t wasm`, and the builtins the module still imports from its host;
 *   test/unit/builtin-catalogue.test.ts measures it again with the pinned OPA);
 * - HOST_BUILTIN_FAMILIES: the Wasm module imports it and gatehouse implements it (one family per file
 *   here, imported only when a policy needs it: loadHostBuiltins);
 * - REFUSED_BUILTINS: it cannot run synchronously inside an evaluation, with the reason and what to do.
 * `gatehouse build` derives its OPA capabilities from this, the load-time check refuses a bundle
 * importing anything outside HOST_BUILTIN_FAMILIES, `gatehouse builtins` and docs/policies.md list it, and the
 * cache analysis takes the nondeterministic flags from it.
 */
import type { BuiltinFamily, HostBuiltin } from './types.js';

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

/**
 * The host builtin families (one module each, loaded only when a policy imports one of their
 * builtins: an evaluation thread of a policy calling none loads none of graphql, ajv, yaml, asn1,
 * re2js...) and the builtins each implements. test/unit/builtin-families.test.ts checks this table
 * against the modules.
 */
const FAMILY_BUILTINS = {
  aws: ['providers.aws.sign_req'],
  crypto: ['crypto.md5', 'crypto.sha1', 'crypto.sha256', 'crypto.hmac.md5', 'crypto.hmac.sha1', 'crypto.hmac.sha256', 'crypto.hmac.sha512', 'crypto.hmac.equal', 'crypto.x509.parse_certificates', 'crypto.x509.parse_and_verify_certificates', 'crypto.x509.parse_and_verify_certificates_with_options', 'crypto.x509.parse_certificate_request', 'crypto.x509.parse_keypair', 'crypto.x509.parse_rsa_private_key', 'crypto.parse_private_keys'],
  encoding: ['hex.encode', 'hex.decode', 'base64url.encode_no_pad', 'urlquery.encode', 'urlquery.decode', 'urlquery.encode_object', 'urlquery.decode_object', 'uri.parse', 'uri.is_valid'],
  graph: ['graph.reachable_paths'],
  graphql: ['graphql.parse', 'graphql.parse_and_verify', 'graphql.parse_query', 'graphql.parse_schema', 'graphql.is_valid', 'graphql.schema_is_valid'],
  json: ['json.patch', 'json.match_schema', 'json.verify_schema', 'json.marshal_with_options'],
  jwt: ['io.jwt.decode', 'io.jwt.verify_rs256', 'io.jwt.verify_rs384', 'io.jwt.verify_rs512', 'io.jwt.verify_ps256', 'io.jwt.verify_ps384', 'io.jwt.verify_ps512', 'io.jwt.verify_es256', 'io.jwt.verify_es384', 'io.jwt.verify_es512', 'io.jwt.verify_eddsa', 'io.jwt.verify_hs256', 'io.jwt.verify_hs384', 'io.jwt.verify_hs512', 'io.jwt.decode_verify', 'io.jwt.encode_sign', 'io.jwt.encode_sign_raw'],
  net: ['net.cidr_contains_matches', 'net.cidr_expand', 'net.cidr_is_valid', 'net.cidr_merge'],
  numbers: ['numbers.range_step', 'rand.intn'],
  object: ['object.subset'],
  opa: ['opa.runtime', 'trace', 'internal.print', 'cast_array', 'cast_set', 'cast_string', 'cast_boolean', 'cast_null', 'cast_object'],
  regex: ['regex.find_n', 'regex.split', 'regex.replace', 'regex.template_match', 'regex.globs_match'],
  semver: ['semver.compare', 'semver.is_valid'],
  strings: ['sprintf', 'strings.any_prefix_match', 'strings.any_suffix_match', 'strings.count', 'strings.split_n', 'indexof_n', 'glob.quote_meta', 'strings.render_template'],
  time: ['time.now_ns', 'time.parse_ns', 'time.parse_rfc3339_ns', 'time.parse_duration_ns', 'time.format', 'time.date', 'time.clock', 'time.weekday', 'time.add_date', 'time.diff'],
  units: ['units.parse', 'units.parse_bytes'],
  uuid: ['uuid.rfc4122', 'uuid.parse'],
  yaml: ['yaml.is_valid', 'yaml.unmarshal', 'yaml.marshal'],
} as const satisfies Record<string, readonly string[]>;

export type HostFamilyName = keyof typeof FAMILY_BUILTINS;

const FAMILY_LOADERS: Readonly<Record<HostFamilyName, () => Promise<BuiltinFamily>>> = {
  aws: async () => (await import('./aws.js')).awsBuiltins,
  crypto: async () => (await import('./crypto.js')).cryptoBuiltins,
  encoding: async () => (await import('./encoding.js')).encodingBuiltins,
  graph: async () => (await import('./graph.js')).graphBuiltins,
  graphql: async () => (await import('./graphql.js')).graphqlBuiltins,
  json: async () => (await import('./json.js')).jsonBuiltins,
  jwt: async () => (await import('./jwt.js')).jwtBuiltins,
  net: async () => (await import('./net.js')).netBuiltins,
  numbers: async () => (await import('./numbers.js')).numbersBuiltins,
  object: async () => (await import('./object.js')).objectBuiltins,
  opa: async () => (await import('./opa.js')).opaBuiltins,
  regex: async () => (await import('./regex.js')).regexBuiltins,
  semver: async () => (await import('./semver.js')).semverBuiltins,
  strings: async () => (await import('./strings.js')).stringsBuiltins,
  time: async () => (await import('./time.js')).timeBuiltins,
  units: async () => (await import('./units.js')).unitsBuiltins,
  uuid: async () => (await import('./uuid.js')).uuidBuiltins,
  yaml: async () => (await import('./yaml.js')).yamlBuiltins,
};

/** Every host builtin (the Wasm module imports it and gatehouse implements it) → its family. */
export const HOST_BUILTIN_FAMILIES: ReadonlyMap<string, HostFamilyName> = (() => {
  const all = new Map<string, HostFamilyName>();
  for (const [family, names] of Object.entries(FAMILY_BUILTINS) as [HostFamilyName, readonly string[]][]) {
    for (const name of names) {
      if (all.has(name)) throw new Error(`host builtin ${name} is listed twice`);
      all.set(name, family);
    }
  }
  return all;
})();

/** Host builtins with OPA's `nondeterministic` flag (checked against the modules' flags by the same test). */
const NONDETERMINISTIC_HOST_BUILTINS: ReadonlySet<string> = new Set([
  'crypto.x509.parse_and_verify_certificates', 'crypto.x509.parse_and_verify_certificates_with_options', 'io.jwt.decode_verify',
  'io.jwt.encode_sign', 'io.jwt.encode_sign_raw', 'rand.intn', 'time.now_ns', 'uuid.rfc4122',
]);

/** Families loaded in this thread, and the builtins they brought. */
const loadedFamilies = new Map<HostFamilyName, Promise<BuiltinFamily>>();
const loadedBuiltins = new Map<string, HostBuiltin>();

function loadFamily(family: HostFamilyName): Promise<BuiltinFamily> {
  let loading = loadedFamilies.get(family);
  if (!loading) {
    loading = FAMILY_LOADERS[family]().then((builtins) => {
      for (const [name, builtin] of Object.entries(builtins)) loadedBuiltins.set(name, builtin);
      return builtins;
    });
    loading.catch(() => loadedFamilies.delete(family));
    loadedFamilies.set(family, loading);
  }
  return loading;
}

/**
 * Load (import) the families implementing `names` in this thread; names that are not host
 * builtins are ignored. Call before evaluating a policy importing them (WasmPolicy.load and the
 * evaluation thread do): until then loadedHostBuiltin returns undefined for them.
 * @throws Error when a family module fails to import.
 */
export async function loadHostBuiltins(names: Iterable<string>): Promise<void> {
  const families = new Set<HostFamilyName>();
  for (const name of names) {
    const family = HOST_BUILTIN_FAMILIES.get(name);
    if (family) families.add(family);
  }
  await Promise.all([...families].map(loadFamily));
}

/** Every host builtin, loading every family (`gatehouse builtins`, docs, tests). */
export async function loadAllHostBuiltins(): Promise<ReadonlyMap<string, HostBuiltin>> {
  await loadHostBuiltins(HOST_BUILTIN_FAMILIES.keys());
  return new Map([...HOST_BUILTIN_FAMILIES.keys()].map((name) => [name, loadedBuiltins.get(name)!]));
}

/** The implementation of host builtin `name` if its family is loaded in this thread (loadHostBuiltins). */
export function loadedHostBuiltin(name: string): HostBuiltin | undefined {
  return loadedBuiltins.get(name);
}

const PRECOMPUTE = 'compute the value outside the evaluation and hand it to the policy as bundle data (data.json) or through Envoy (metadata_context, context_extensions, a header set by an earlier filter)';

/** Builtins gatehouse refuses at build and load, with why and what to do instead. */
export const REFUSED_BUILTINS: ReadonlyMap<string, string> = new Map([
  ['http.send', `it makes a network call in the middle of a Check; Wasm evaluation is synchronous, so one slow server would stall every Check. Instead, ${PRECOMPUTE}`],
  ['net.lookup_ip_addr', `it resolves DNS in the middle of a Check; Wasm evaluation is synchronous, so a slow resolver would stall every Check. Instead, ${PRECOMPUTE}`],
  ['rego.parse_module', 'it needs OPA\'s Rego parser, which only exists in Go; parse modules when the bundle is built instead'],
]);

export type BuiltinSupport =
  | { kind: 'native' }
  | { kind: 'host'; family: HostFamilyName }
  | { kind: 'refused'; reason: string }
  | { kind: 'unknown' };

const NATIVE = new Set(WASM_NATIVE_BUILTINS);

/** How gatehouse evaluates the builtin `name` (as OPA names it, e.g. "io.jwt.decode_verify"). */
export function builtinSupport(name: string): BuiltinSupport {
  // `print(...)` calls compile (with --wasm-include-print) to the host builtin internal.print.
  if (name === 'print') return builtinSupport('internal.print');
  if (NATIVE.has(name)) return { kind: 'native' };
  const family = HOST_BUILTIN_FAMILIES.get(name);
  if (family) return { kind: 'host', family };
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
  return NONDETERMINISTIC_HOST_BUILTINS.has(name) || REFUSED_BUILTINS.has(name);
}

/** Why a builtin is not available, for build and load errors. */
export function unsupportedReason(name: string): string {
  const support = builtinSupport(name);
  if (support.kind === 'refused') return support.reason;
  return `not implemented by gatehouse (run "gatehouse builtins" for the list it evaluates)`;
}
