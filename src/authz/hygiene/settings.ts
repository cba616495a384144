/**
 * Hygiene settings, resolved once from the configuration: the mode, which rules are on, and the
 * limits. The Check path only reads booleans and numbers from here.
 */
import { MAX_JSON_DEPTH } from '../json-depth.js';
import { SWITCHABLE_RULE_IDS, type HygieneRuleId, type LimitKey } from './rules.js';

export type HygieneMode = 'strict' | 'compatible';

export type HygieneLimits = Readonly<Record<LimitKey, number>> & { readonly max_json_depth: number };

/** Defaults: above what real clients send, far below what costs real time (docs/input.md#limits). */
export const DEFAULT_LIMITS: HygieneLimits = Object.freeze({
  max_path_bytes: 8192,
  max_path_segments: 256,
  max_query_params: 256,
  max_headers: 128,
  max_header_bytes: 64 * 1024,
  max_header_value_bytes: 16 * 1024,
  max_form_fields: 1000,
  max_multipart_parts: 256,
  max_json_depth: MAX_JSON_DEPTH,
});

export interface HygieneSettings {
  readonly mode: HygieneMode;
  /** Rules that refuse requests (none in compatible mode). */
  readonly on: ReadonlySet<HygieneRuleId>;
  readonly limits: HygieneLimits;
  /**
   * strict: content type by base media type (JSON family parsed as JSON) and `canonical_host` in
   * the input; compatible: opa-envoy-plugin's substring match and no added key.
   */
  readonly strictParsing: boolean;
}

export function hygieneSettings(mode: HygieneMode, allow: readonly string[] = [], limits: Partial<HygieneLimits> = {}): HygieneSettings {
  const allowed = new Set(allow);
  const on = mode === 'strict' ? SWITCHABLE_RULE_IDS.filter((id) => !allowed.has(id)) : [];
  return Object.freeze({ mode, on: new Set(on), limits: Object.freeze({ ...DEFAULT_LIMITS, ...limits }), strictParsing: mode === 'strict' });
}

/** What a Check gets when nobody configured hygiene: the safe default. */
export const STRICT = hygieneSettings('strict');
export const COMPATIBLE = hygieneSettings('compatible');
