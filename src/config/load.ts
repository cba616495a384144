/**
 * Configuration: defaults → YAML file (--config) → environment → flags, validated once and frozen.
 * A bad value stops start-up with a message that names the key, where it came from, and a fix.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { hygieneSettings, type HygieneSettings } from '../authz/hygiene/index.js';
import type { CacheSettings } from '../cache/plan.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { CONFIG_KEYS, envName, flagName, trustBundlePair, type Config, type ListenAddress } from './schema.js';

type Raw = Partial<Record<keyof Config, { value: unknown; origin: string }>>;

export interface ConfigSources {
  /** Parsed flags (string values; booleans may be true/false). */
  flags: Record<string, string | boolean | undefined>;
  env: NodeJS.ProcessEnv;
  /** Path of the YAML file, when given. */
  file?: string;
}

export function loadConfig(sources: ConfigSources): Readonly<Config> {
  const raw: Raw = {};
  if (sources.file) mergeFile(raw, sources.file);
  for (const key of keys()) {
    const fromEnv = sources.env[envName(key)];
    if (fromEnv !== undefined && fromEnv !== '') raw[key] = { value: fromEnv, origin: `environment variable ${envName(key)}` };
  }
  for (const key of keys()) {
    const fromFlag = sources.flags[flagName(key)];
    if (fromFlag !== undefined) raw[key] = { value: fromFlag, origin: `flag --${flagName(key)}` };
  }
  const config = {} as Record<string, unknown>;
  for (const key of keys()) config[key] = validate(key, raw[key]);
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

function mergeFile(raw: Raw, file: string): void {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new GatehouseError('config_invalid', `cannot read config file ${file}: ${describeThrown(error)}`);
  }
  if (parsed === null || parsed === undefined) return;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GatehouseError('config_invalid', `config file ${file} must be a YAML mapping of keys to values`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (!Object.prototype.hasOwnProperty.call(CONFIG_KEYS, key)) {
      const hint = suggest(key);
      throw new GatehouseError(
        'config_invalid',
        `unknown key "${key}" in config file ${file}${hint ? `; did you mean "${hint}"?` : ''} (known keys: ${keys().join(', ')})`,
      );
    }
    raw[key as keyof Config] = { value, origin: `key "${key}" in ${file}` };
  }
}

function validate(key: keyof Config, given: { value: unknown; origin: string } | undefined): unknown {
  const spec = CONFIG_KEYS[key];
  const fail = (problem: string): never => {
    throw new GatehouseError(
      'config_invalid',
      `${key} (${given?.origin ?? 'default'}) ${problem}. Fix: set --${flagName(key)} (or ${envName(key)}, or "${key}:" in the config file), e.g. ${spec.example}`,
    );
  };
  if (given === undefined) {
    if (spec.default === undefined) return spec.type === 'path' ? undefined : fail('is required');
    return spec.type === 'address' ? parseAddress(String(spec.default), spec.allowOff, fail) : spec.default;
  }
  const value = given.value;
  switch (spec.type) {
    case 'string': {
      // `workers: 2` in YAML is a number: the key's string form is its decimal text ("2").
      if (key === 'workers' && typeof value === 'number' && Number.isSafeInteger(value)) return validate(key, { value: String(value), origin: given.origin });
      if (typeof value !== 'string') return fail(`must be a string, got ${JSON.stringify(value)}`);
      const problem = spec.check?.(value);
      return problem ? fail(problem) : value;
    }
    case 'address':
      if (typeof value !== 'string' && typeof value !== 'number') return fail('must be an address string');
      return parseAddress(String(value), spec.allowOff, fail);
    case 'integer': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) return fail(`must be an integer, got ${JSON.stringify(value)}`);
      if (n < spec.min || n > spec.max) return fail(`must be between ${spec.min} and ${spec.max}, got ${n}`);
      const problem = spec.check?.(n);
      return problem ? fail(problem) : n;
    }
    case 'boolean':
      if (value === true || value === 'true' || value === '1') return true;
      if (value === false || value === 'false' || value === '0') return false;
      return fail(`must be true or false, got ${JSON.stringify(value)}`);
    case 'list': {
      const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
      if (!items || items.some((i) => typeof i !== 'string')) return fail(`must be a list of strings, got ${JSON.stringify(value)}`);
      const trimmed = (items as string[]).map((i) => i.trim()).filter((i) => i !== '');
      for (const item of trimmed) {
        const problem = spec.checkItem(item);
        if (problem) fail(problem);
      }
      return Object.freeze(trimmed);
    }
    case 'path':
      if (typeof value !== 'string' || value === '') return fail(`must be a file path, got ${JSON.stringify(value)}`);
      return value;
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) {
        return fail(`must be one of ${spec.values.join(', ')}, got ${JSON.stringify(value)}`);
      }
      return value;
  }
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

function suggest(key: string): string | undefined {
  const normal = key.toLowerCase().replaceAll('-', '_');
  return keys().find((k) => k === normal || k.replaceAll('_', '') === normal.replaceAll('_', ''));
}
