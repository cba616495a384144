/**
 * Configuration problems as gatehouse reports them: the key, where its value came from (the
 * config file's line and column, an environment variable, a flag), the problem and the fix. ajv's
 * errors (json-schema.ts) are turned into these here, with "did you mean" for unknown keys and
 * enum values.
 */
import type { ErrorObject } from 'ajv';
import { closestMatch } from 'leven';
import { GatehouseError } from '../errors.js';
import { parseAddress } from './address.js';
import { CONFIG_KEYS, envName, flagName, type Config } from './schema.js';

/** A value as given, and where: `key "bundle" in gatehouse.yaml:3:9`, `flag --bundle`, ... */
export interface Given {
  value: unknown;
  origin: string;
  /** For a list from the file: where each item is. */
  itemOrigins?: string[];
  /** For a key from the file: where the key is (file:line:column). */
  keyAt?: string;
}

/** `<key> (<origin>) <problem>. Fix: set --flag (or ENV, or "key:" in the config file), e.g. <example>` */
export function keyError(key: keyof Config, origin: string, problem: string): GatehouseError {
  return new GatehouseError(
    'config_invalid',
    `${key} (${origin}) ${problem}${problem.endsWith('?') ? '' : '.'} Fix: set --${flagName(key)} (or ${envName(key)}, or "${key}:" in the config file), e.g. ${CONFIG_KEYS[key].example}`,
  );
}

/** `fail(problem)` for one key: throws its keyError. */
export function failure(key: keyof Config, origin: string): (problem: string) => never {
  return (problem) => {
    throw keyError(key, origin, problem);
  };
}

/** Where item `index` of a list came from: its file:line:column, or the whole value's origin. */
export function itemOrigin(given: Given, value: unknown, index: number): string {
  // fromText dropped empty items: positions only line up when none was dropped.
  const positions = given.itemOrigins;
  return positions && Array.isArray(value) && positions.length === value.length ? positions[index]! : given.origin;
}

/** ajv's first problem, in the order a reader fixes them (unknown keys, then declaration order), as gatehouse says it. */
export function schemaError(
  errors: readonly ErrorObject[],
  given: ReadonlyMap<string, Given>,
  values: Readonly<Record<string, unknown>>,
  file: string | undefined,
): GatehouseError {
  const order = Object.keys(CONFIG_KEYS);
  const keyOf = (e: ErrorObject) => (e.keyword === 'required' ? String(e.params.missingProperty) : (e.instancePath.split('/')[1] ?? ''));
  // A merge key first: it explains the unknown key its anchor is usually on.
  const rank = (e: ErrorObject) => (e.keyword === 'additionalProperties' ? (e.params.additionalProperty === MERGE_KEY ? -2 : -1) : order.indexOf(keyOf(e)));
  const error = [...errors].sort((a, b) => rank(a) - rank(b))[0];
  if (error === undefined) return new GatehouseError('config_invalid', 'configuration is invalid');
  if (error.keyword === 'additionalProperties') {
    const key = String(error.params.additionalProperty);
    const hint = suggest(key);
    const where = given.get(key)?.keyAt ?? file ?? 'the configuration';
    if (key === MERGE_KEY) return new GatehouseError('config_invalid', `config file ${where}: merge keys (<<, YAML 1.1) are not supported. Fix: write the keys out`);
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
  const got = `got ${shown(value)}`;
  // Only values from the config file have a file position.
  const fromFile = entry?.itemOrigins !== undefined || entry?.keyAt !== undefined;
  // YAML reads `instance: 7` or `bundle_verification_key_id: true` as a number or boolean.
  const quoteIt = typeof value === 'number' || typeof value === 'boolean' ? ' (quote it)' : '';
  // A key that takes a YAML number as text (workers: 2) refuses 2.5 or true by its own rule: quoting would not help.
  const asText = spec.type === 'string' && spec.numberAsText && (typeof value === 'number' || typeof value === 'boolean') ? spec.check?.(String(value)) : undefined;
  const problem = (() => {
    if (error.keyword === 'required') return 'is required';
    if (value === null) return 'has no value';
    if (asText !== undefined) return asText;
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
          boolean: `must be true or false, ${got}${fromFile && typeof value === 'string' && YAML_11_BOOLEAN.test(value) ? ' (YAML 1.2 reads yes/no/on/off as text: write true or false)' : ''}`,
          enum: `must be one of ${spec.type === 'enum' ? spec.values.join(', ') : ''}, ${got}`,
          list: `must be a list of strings, ${got}`,
        }[spec.type];
    }
  })();
  return keyError(key, origin, problem ?? `is invalid (${error.message})`);
}

/** YAML 1.1's merge key (<<: *defaults); the YAML 1.2 gatehouse reads takes it as a plain key. */
const MERGE_KEY = '<<';

/** YAML 1.1's other spellings of booleans, which YAML 1.2 (gatehouse's config file) reads as strings. */
const YAML_11_BOOLEAN = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;

/** The longest value an error repeats in full: a config value pasted by mistake can be megabytes. */
const SHOWN_MAX_CHARS = 200;

/** A refused value as JSON, as the user can find it: Infinity and NaN as themselves (JSON says null), a long one cut short. */
function shown(value: unknown): string {
  const text = typeof value === 'number' && !Number.isFinite(value) ? String(value) : (JSON.stringify(value) ?? String(value));
  return text.length > SHOWN_MAX_CHARS ? `${text.slice(0, SHOWN_MAX_CHARS)}… (${text.length} characters)` : text;
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

/**
 * A known key close to an unknown one: same letters in another case or with dashes, the
 * environment variable's name (GATEHOUSE_LOG_LEVEL), the only key that adds a suffix to it
 * (tls_cert: tls_cert_file), or a small edit away.
 */
function suggest(key: string): string | undefined {
  const normal = key.toLowerCase().replaceAll('-', '_').replace(/^gatehouse_/, '');
  const known = Object.keys(CONFIG_KEYS);
  const longer = known.filter((k) => k.startsWith(`${normal}_`));
  return (
    known.find((k) => k === normal || k.replaceAll('_', '') === normal.replaceAll('_', '')) ??
    (longer.length === 1 ? longer[0] : undefined) ??
    closestMatch(normal, known, { maxDistance: Math.max(2, Math.floor(normal.length / 4)) })
  );
}

/** An allowed value close to a refused one ("INFO" → "info", "stric" → "strict"). */
function closestEnum(value: string, values: readonly string[]): string | undefined {
  return values.find((v) => v.toLowerCase() === value.toLowerCase()) ?? closestMatch(value, values, { maxDistance: Math.max(1, Math.floor(value.length / 3)) });
}
