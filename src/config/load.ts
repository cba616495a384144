/**
 * Configuration: defaults → YAML file (--config) → environment → flags, validated once and frozen.
 * The values are checked by the JSON Schema derived from config/schema.ts (json-schema.ts, with
 * ajv), then by each key's `check` for what a schema cannot say, then in combination. A bad value
 * stops start-up with a message that names the key, where it came from (file:line:column,
 * environment variable or flag), the problem and a fix.
 */
import { hygieneSettings, type HygieneSettings } from '../authz/hygiene/index.js';
import type { CacheSettings } from '../cache/plan.js';
import { GatehouseError } from '../errors.js';
import { parseAddress } from './address.js';
import { configValidator } from './json-schema.js';
import { failure, itemOrigin, schemaError, type Given } from './problems.js';
import { CONFIG_KEYS, envName, flagName, trustBundlePair, type Config, type KeySpec } from './schema.js';
import { readConfigFile } from './yaml-file.js';

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
  // `--config "$CONFIG"` with the variable unset must not silently serve without the file.
  if (sources.file === '') throw new GatehouseError('config_invalid', "--config was given an empty path. Fix: pass the config file's path, or leave --config out");
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

export { parseAddress } from './address.js';

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
  if (config.admin_ui && config.admin_addr === null) {
    fail('admin_ui needs the admin listener, which serves the page. Fix: set --admin-addr (e.g. 127.0.0.1:9192), or drop admin_ui');
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
      // Digits past 2^53 are out of every key's range: the schema says so, with the number.
      return typeof value === 'string' && /^-?\d+$/.test(value.trim()) && Number.isFinite(Number(value)) ? Number(value) : value;
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
