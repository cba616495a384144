/**
 * Command-line flags generated from the configuration declaration (config/schema.ts), so `serve`,
 * its help and the offline commands' evaluation flags come from the one list of keys. The flags
 * are only parsed here; their values are validated by config/load.ts with the file and the
 * environment, so a bad value gets the same message whichever way it was given.
 */
import { Option, type Command } from 'commander';
import { CONFIG_KEYS, envName, flagName, type Config } from '../config/schema.js';

/** Parsed flag values keyed by flag name without dashes ("max-body-bytes", "watch"). */
export type Values = Record<string, string | boolean | string[] | undefined>;

const PLACEHOLDER: Record<string, string> = {
  address: 'ADDR', integer: 'N', list: 'A,B', enum: 'VALUE', boolean: 'BOOL',
};

/**
 * The flag of one key: `--max-body-bytes <N>`; a boolean key is a switch (`--watch`), takes an
 * optional value (`--watch false`, as the environment and the file spell it) and has a hidden
 * `--no-watch`. Returned in order: the flag, then its negation if any.
 */
export function configOptions(key: keyof Config, withEnv: boolean, helpOverride?: string): Option[] {
  const spec = CONFIG_KEYS[key];
  const flag = flagName(key);
  // The key's own help may already end in "(required)": say it once.
  const help = (helpOverride ?? spec.help).replace(/ \(required\)$/, '');
  const facts =
    spec.type === 'path' ? [] : spec.default === undefined ? ['required'] : Array.isArray(spec.default) ? [] : [`default ${JSON.stringify(spec.default)}`];
  if (spec.type === 'enum') facts.push(`one of ${spec.values.join(', ')}`);
  if (withEnv) facts.push(`env ${envName(key)}`);
  if (spec.type === 'boolean') {
    facts.push(`--no-${flag} sets false`);
    return [new Option(`--${flag} [${PLACEHOLDER.boolean}]`, `${help} (${facts.join('; ')})`), new Option(`--no-${flag}`).hideHelp()];
  }
  // A free-form string is named after its key: --bundle <BUNDLE>, --tls-cert-file <FILE>.
  const placeholder =
    spec.type === 'enum' && spec.values.join('|').length <= 20 ? spec.values.join('|') : (PLACEHOLDER[spec.type] ?? key.split('_').pop()!.toUpperCase());
  return [new Option(`--${flag} <${placeholder}>`, facts.length > 0 ? `${help} (${facts.join('; ')})` : help)];
}

/** Adds the flags of `keys` to `command`, with `helpOverrides` instead of the keys' own help where the command differs from serve. */
export function addConfigFlags(command: Command, keys: readonly (keyof Config)[], withEnv: boolean, helpOverrides: Partial<Record<keyof Config, string>> = {}): Command {
  for (const key of keys) for (const option of configOptions(key, withEnv, helpOverrides[key])) command.addOption(option);
  return command;
}

/** check, test and replay read the bundle once, from disk (serve also polls URLs). */
export const OFFLINE_HELP: Partial<Record<keyof Config, string>> = {
  bundle: 'policy bundle built with "gatehouse build": a .tar.gz file or a directory (not a URL, unlike serve: download it first)',
};

/** Every configuration key, in declaration order. */
export const ALL_CONFIG_KEYS = Object.keys(CONFIG_KEYS) as (keyof Config)[];

/** Keys that shape evaluation, shared by check, test and replay (and validated as serve validates them). */
export const EVALUATION_KEYS: readonly (keyof Config)[] = [
  'bundle', 'entrypoint', 'max_body_bytes', 'trust_domains', 'xfcc_trusted_sources', 'request_hygiene', 'request_hygiene_allow',
];

/**
 * A command's parsed options keyed by flag name ("max-body-bytes"), as config/load.ts takes them:
 * `--no-watch` gives `watch: false`, `--watch` gives `watch: true`, `--watch false` gives "false".
 */
export function flagValues(command: Command): Values {
  const byAttribute = new Map<string, string>();
  for (const option of command.options) {
    const long = option.long?.replace(/^--/, '');
    if (long !== undefined) byAttribute.set(option.attributeName(), option.negate ? long.replace(/^no-/, '') : long);
  }
  const values: Values = {};
  for (const [attribute, value] of Object.entries(command.opts())) values[byAttribute.get(attribute) ?? attribute] = value as Values[string];
  return values;
}
