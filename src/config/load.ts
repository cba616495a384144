/**
 * Configuration: defaults → YAML file (--config) → environment → flags, validated once and frozen.
 * The values are checked by the JSON Schema derived from config/schema.ts (json-schema.ts, with
 * ajv), then by each key's `check` for what a schema cannot say, then in combination. A bad value
 * stops start-up with a message that names the key, where it came from (file:line:column,
 * environment variable or flag), the problem and a fix.
 */
import type { ErrorObject } from 'ajv';
import { closestMatch } from 'leven';
import { hygieneSettings, type HygieneSettings } from '../authz/hygiene/index.js';
import type { CacheSettings } from '../cache/plan.js';
import { GatehouseError } from '../errors.js';
import { configValidator } from './json-schema.js';
import { CONFIG_KEYS, envName, flagName, trustBundlePair, type Config, type KeySpec, type ListenAddress } from './schema.js';
import { readConfigFile } from './yaml-file.js';

/** A value as given, and where: `key "bundle" in gatehouse.yaml:3:9`, `flag --bundle`, ... */
interface Given {
  value: unknown;
  origin: string;
  /** For a list from the file: where each item is. */
  itemOrigins?: string[];
  /** For a key from the file: where the key is (file:line:column). */
  keyAt?: string;
}

export interface ConfigSources {
  /** Parsed flags (string values; booleans may be true/false). */
  flags: Record<string, string | boolean | undefined>;
  env: NodeJS.ProcessEnv;
  /** Path of the YAML file, when given. */
  file?: string;
}

/**
 * The configuration from `sources`, validated and frozen.
 * Throws GatehouseError config_invalid naming the key, its origin, the problem and the fix.
 */
export function loadConfig(sources: ConfigSources): Readonly<Config> {
  const given = new Map<string, Given>();
  if (sources.file) {
    for (const [key, entry] of readConfigFile(sources.file)) {
      given.set(key, {
        value: entry.value,
        origin: `key "${key}" in ${entry.at}`,
        keyAt: entry.keyAt,
        ...(entry.itemsAt ? { itemOrigins: entry.itemsAt.map((at, i) => `item ${i + 1} of key "${key}" in ${at}`) } : {}),
      });
    }
  }
  for (const key of keys()) {
    const fromEnv = sources.env[envName(key)];
    if (fromEnv !== undefined && fromEnv !== '') given.set(key, { value: fromEnv, origin: `environment variable ${envName(key)}` });
  }
  for (const key of keys()) {
    const fromFlag = sources.flags[flagName(key)];
    if (fromFlag !== undefined) given.set(key, { value: fromFlag, origin: `flag --${flagName(key)}` });
  }
  const values: Record<string, unknown> = {};
  for (const [key, { value }] of given) values[key] = key in CONFIG_KEYS ? fromText(CONFIG_KEYS[key as keyof Config], value) : value;
  const validate = configValidator();
  if (!validate(values)) throw schemaError(validate.errors ?? [], given, values, sources.file);
  const config = {} as Record<string, unknown>;
  for (const key of keys()) config[key] = finish(key, given.get(key), values[key]);
  checkCombinations(config as unknown as Config);
  return Object.freeze(config as unknown as Config);
}

/** The decision-cache settings of a config, as the policy loader takes them. */
export function cacheSettings(config: Config): CacheSettings {
  return {
    mode: config.decision_cache,
    ttlMs: config.decision_cache_ttl_ms,
    keyFields: config.decision_cache_key_fields,
    nondeterministicTtlMs: config.decision_cache_nondeterministic_ttl_ms,
  };
}

/** The request-hygiene settings of a config, resolved once for the Check path. */
export function requestHygiene(config: Config): HygieneSettings {
  return hygieneSettings(config.request_hygiene, config.request_hygiene_allow, {
    max_path_bytes: config.max_path_bytes,
    max_path_segments: config.max_path_segments,
    max_query_params: config.max_query_params,
    max_headers: config.max_headers,
    max_header_bytes: config.max_header_bytes,
    max_header_value_bytes: config.max_header_value_bytes,
    max_form_fields: config.max_form_fields,
    max_multipart_parts: config.max_multipart_parts,
    max_json_depth: config.max_json_depth,
  });
}

/** Settings that only make sense together. */
function checkCombinations(config: Config): void {
  const fail = (message: string): never => {
    throw new GatehouseError('config_invalid', message);
  };
  if ((config.tls_cert_file === undefined) !== (config.tls_key_file === undefined)) {
    fail('tls_cert_file and tls_key_file must be set together. Fix: pass both --tls-cert-file and --tls-key-file, or neither');
  }
  if (config.tls_client_ca_file !== undefined && config.tls_cert_file === undefined) {
    fail('tls_client_ca_file requires TLS. Fix: also set --tls-cert-file and --tls-key-file');
  }
  if (config.tls_allowed_clients.length > 0 && config.tls_client_ca_file === undefined && config.tls_client_trust_bundles.length === 0) {
    fail('tls_allowed_clients needs client certificates. Fix: also set --tls-client-ca-file or --tls-client-trust-bundles (mTLS)');
  }
  if (config.tls_client_trust_bundles.length > 0 && config.tls_cert_file === undefined) {
    fail('tls_client_trust_bundles requires TLS. Fix: also set --tls-cert-file and --tls-key-file');
  }
  if (config.tls_client_trust_bundles.length > 0 && config.tls_client_ca_file !== undefined) {
    fail('tls_client_ca_file and tls_client_trust_bundles cannot both be set: one flat CA list would let any CA vouch for any trust domain. Fix: move the CAs of tls_client_ca_file into tls_client_trust_bundles, one trust.domain=file pair per trust domain');
  }
  const bundleDomains = config.tls_client_trust_bundles.map((pair) => trustBundlePair(pair)[0]);
  const repeated = bundleDomains.find((domain, i) => bundleDomains.indexOf(domain) !== i);
  if (repeated !== undefined) {
    fail(`tls_client_trust_bundles names trust domain "${repeated}" twice. Fix: put all of its CAs in one PEM file`);
  }
  if (config.bundle_state_file !== undefined && !config.bundle_require_newer_revision) {
    fail('bundle_state_file only matters with bundle_require_newer_revision. Fix: also set --bundle-require-newer-revision true, or drop bundle_state_file');
  }
  if (config.bundle_accept_unverified_signatures && config.bundle_verification_key_file !== undefined) {
    fail('bundle_accept_unverified_signatures contradicts bundle_verification_key_file (with a key, every bundle is verified). Fix: drop bundle_accept_unverified_signatures');
  }
  if (config.bundle_poll_min_ms > config.bundle_poll_max_ms) {
    fail('bundle_poll_min_ms is larger than bundle_poll_max_ms. Fix: make --bundle-poll-min-ms at most --bundle-poll-max-ms');
  }
  if (config.request_hygiene === 'compatible' && config.request_hygiene_allow.length > 0) {
    fail('request_hygiene_allow only matters with request_hygiene: strict (compatible switches every rule off). Fix: drop request_hygiene_allow, or set --request-hygiene strict');
  }
  if (config.addr.kind === 'unix' && config.tls_cert_file !== undefined) {
    fail('TLS on a unix socket is not supported. Fix: use a host:port addr, or drop the tls_* settings');
  }
}

function keys(): (keyof Config)[] {
  return Object.keys(CONFIG_KEYS) as (keyof Config)[];
}

/**
 * A value in the type the schema expects, when it was given as text (environment, flags, or a
 * quoted YAML scalar): "300" for an integer, "true"/"1"/"false"/"0" for a boolean, "a,b" for a
 * list (items trimmed, empty ones dropped). Anything else is returned as given, for the schema to
 * refuse with the value the user wrote.
 */
function fromText(spec: KeySpec, value: unknown): unknown {
  switch (spec.type) {
    case 'integer':
      return typeof value === 'string' && /^-?\d+$/.test(value.trim()) && Number.isSafeInteger(Number(value)) ? Number(value) : value;
    case 'boolean':
      return value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
    case 'list': {
      const items = typeof value === 'string' ? value.split(',') : value;
      return Array.isArray(items) ? items.map((i) => (typeof i === 'string' ? i.trim() : i)).filter((i) => i !== '') : value;
    }
    case 'address':
      return typeof value === 'number' ? String(value) : value;
    default:
      return value;
  }
}

/** A validated key's final value: its default, a parsed address, a frozen list; its `check` run. */
function finish(key: keyof Config, given: Given | undefined, value: unknown): unknown {
  const spec = CONFIG_KEYS[key];
  const fail = failure(key, given?.origin ?? 'default');
  if (given === undefined) {
    return spec.type === 'address' && spec.default !== undefined ? parseAddress(spec.default, spec.allowOff, fail) : spec.default;
  }
  switch (spec.type) {
    case 'string': {
      const text = typeof value === 'number' ? String(value) : (value as string);
      const problem = spec.check?.(text);
      return problem ? fail(problem) : text;
    }
    case 'address':
      return parseAddress(value as string, spec.allowOff, fail);
    case 'integer': {
      const problem = spec.check?.(value as number);
      return problem ? fail(problem) : value;
    }
    case 'list': {
      const items = value as string[];
      items.forEach((item, i) => {
        const problem = spec.checkItem(item);
        if (problem) failure(key, itemOrigin(given, value, i))(problem);
      });
      return Object.freeze(items);
    }
    default:
      return value;
  }
}

/** `fail(problem)` for one key: `<key> (<origin>) <problem>. Fix: set --flag (or ENV, or "key:" in the config file), e.g. <example>`. */
function failure(key: keyof Config, origin: string): (problem: string) => never {
  return (problem) => {
    throw new GatehouseError(
      'config_invalid',
      `${key} (${origin}) ${problem}${problem.endsWith('?') ? '' : '.'} Fix: set --${flagName(key)} (or ${envName(key)}, or "${key}:" in the config file), e.g. ${CONFIG_KEYS[key].example}`,
    );
  };
}

/** Where item `index` of a list came from: its file:line:column, or the whole value's origin. */
function itemOrigin(given: Given, value: unknown, index: number): string {
  // fromText dropped empty items: positions only line up when none was dropped.
  const positions = given.itemOrigins;
  return positions && Array.isArray(value) && positions.length === value.length ? positions[index]! : given.origin;
}

/** ajv's first problem, in the order a reader fixes them (unknown keys, then declaration order), as gatehouse says it. */
function schemaError(
  errors: readonly ErrorObject[],
  given: ReadonlyMap<string, Given>,
  values: Readonly<Record<string, unknown>>,
  file: string | undefined,
): GatehouseError {
  const order = keys() as string[];
  const keyOf = (e: ErrorObject) => (e.keyword === 'required' ? String(e.params.missingProperty) : (e.instancePath.split('/')[1] ?? ''));
  const rank = (e: ErrorObject) => (e.keyword === 'additionalProperties' ? -1 : order.indexOf(keyOf(e)));
  const error = [...errors].sort((a, b) => rank(a) - rank(b))[0];
  if (error === undefined) return new GatehouseError('config_invalid', 'configuration is invalid');
  if (error.keyword === 'additionalProperties') {
    const key = String(error.params.additionalProperty);
    const hint = suggest(key);
    const where = given.get(key)?.keyAt ?? file ?? 'the configuration';
    return new GatehouseError(
      'config_invalid',
      `unknown key "${key}" in config file ${where}${hint ? `; did you mean "${hint}"? Fix: rename it` : ` (known keys: ${order.join(', ')}). Fix: remove or rename it`} (every key: gatehouse help serve)`,
    );
  }
  const key = keyOf(error) as keyof Config;
  const spec = CONFIG_KEYS[key];
  const item = error.instancePath.split('/')[2];
  const entry = given.get(key);
  const value: unknown = item === undefined ? values[key] : (values[key] as unknown[])[Number(item)];
  const origin = item === undefined || entry === undefined ? (entry?.origin ?? 'default') : itemOrigin(entry, values[key], Number(item));
  const got = `got ${JSON.stringify(value)}`;
  // YAML reads `instance: 7` or `bundle_verification_key_id: true` as a number or boolean.
  const quoteIt = typeof value === 'number' || typeof value === 'boolean' ? ' (quote it)' : '';
  const problem = (() => {
    if (error.keyword === 'required') return 'is required';
    if (value === null) return 'has no value';
    if (item !== undefined) {
      // The origin names the item when the file says where it is; otherwise the problem does.
      const which = origin === entry?.origin ? `item ${Number(item) + 1} ` : '';
      return `${which}must be a string, ${got}${Array.isArray(value) ? ' (a list inside the list: one item per line, "- item", or [a, b] for the whole list)' : ''}`;
    }
    switch (error.keyword) {
      case 'minimum':
      case 'maximum':
        return spec.type === 'integer' ? `must be between ${spec.min} and ${spec.max}, ${got}` : error.message;
      case 'enum': {
        if (spec.type !== 'enum') return error.message;
        const hint = typeof value === 'string' ? closestEnum(value, spec.values) : undefined;
        return `must be one of ${spec.values.join(', ')}, ${got}${hint ? `; did you mean "${hint}"?` : ''}`;
      }
      case 'minLength':
        return `must not be empty, ${got}`;
      case 'pattern':
        // The address parser says what is wrong with it (no port, relative socket path, ...).
        return spec.type === 'address' ? captured(() => parseAddress(String(value), spec.allowOff, (p) => { throw new Error(p); })) : error.message;
      default:
        return {
          string: `must be a string${quoteIt}, ${got}`,
          path: `must be a string${quoteIt}, ${got}`,
          address: `must be host:port, :port or unix:///path, ${got}`,
          integer: `must be an integer, ${got}`,
          boolean: `must be true or false, ${got}`,
          enum: `must be one of ${spec.type === 'enum' ? spec.values.join(', ') : ''}, ${got}`,
          list: `must be a list of strings, ${got}`,
        }[spec.type];
    }
  })();
  try {
    failure(key, origin)(problem ?? `is invalid (${error.message})`);
  } catch (thrown) {
    return thrown as GatehouseError;
  }
  return new GatehouseError('config_invalid', `${key} is invalid`);
}

/** The message `run` throws (the address parser reports through an exception). */
function captured(run: () => unknown): string {
  try {
    run();
    return 'is invalid';
  } catch (error) {
    return (error as Error).message;
  }
}

/** A known key close to an unknown one: same letters in another case or with dashes, or a small edit away. */
function suggest(key: string): string | undefined {
  const normal = key.toLowerCase().replaceAll('-', '_');
  const known = keys() as string[];
  return (
    known.find((k) => k === normal || k.replaceAll('_', '') === normal.replaceAll('_', '')) ??
    closestMatch(normal, known, { maxDistance: Math.max(2, Math.floor(key.length / 4)) })
  );
}

/** An allowed value close to a refused one ("INFO" → "info", "stric" → "strict"). */
function closestEnum(value: string, values: readonly string[]): string | undefined {
  return values.find((v) => v.toLowerCase() === value.toLowerCase()) ?? closestMatch(value, values, { maxDistance: Math.max(1, Math.floor(value.length / 3)) });
}

/** ":9191", "host:9191", "[::1]:9191", "unix:///path/to.sock" (and "off" where allowed). */
export function parseAddress(text: string, allowOff: boolean, fail: (problem: string) => never): ListenAddress | null {
  if (allowOff && (text === 'off' || text === '')) return null;
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!path.startsWith('/')) fail(`must be unix:///absolute/path, got ${JSON.stringify(text)}`);
    return { kind: 'unix', path, text };
  }
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):(\d{1,5})$/.exec(text);
  if (!match) return fail(`must be host:port, :port or unix:///path, got ${JSON.stringify(text)}`);
  const port = Number(match[2]);
  if (port > 65535) return fail(`has port ${port}, above 65535`);
  const host = match[1] === '' ? '0.0.0.0' : match[1]!.replace(/^\[|\]$/g, '');
  return { kind: 'tcp', host, port, text };
}
