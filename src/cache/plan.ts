/**
 * Whether, and how, the decisions of one loaded policy are cached: from the analysis shipped in
 * its bundle and the operator's settings. Decided once per bundle load and logged.
 */
import type { CacheAnalysis } from './analysis.js';
import { ANALYSIS_VERSION } from './analysis.js';

export type CachePlan =
  | { enabled: true; fields: readonly (readonly string[])[]; ttlMs: number; why: string }
  | { enabled: false; why: string };

export interface CacheSettings {
  mode: 'auto' | 'off';
  ttlMs: number;
  /** Operator override of the key fields (dotted input paths). */
  keyFields: readonly string[];
  /** TTL for policies that call non-deterministic builtins; 0 = never cache them. */
  nondeterministicTtlMs: number;
}

export function planCache(analysis: CacheAnalysis | undefined, settings: CacheSettings): CachePlan {
  if (settings.mode === 'off') return { enabled: false, why: 'decision_cache is off' };
  if (settings.keyFields.length > 0) {
    const fields = settings.keyFields.map((f) => f.replace(/^input\./, '').split('.'));
    return { enabled: true, fields, ttlMs: settings.ttlMs, why: 'key fields set by decision_cache_key_fields (operator override)' };
  }
  if (!analysis) return { enabled: false, why: 'the bundle has no cache analysis; build it with "gatehouse build"' };
  if (analysis.version !== ANALYSIS_VERSION) return { enabled: false, why: `unknown cache analysis version ${analysis.version}` };
  if (analysis.uncacheable) return { enabled: false, why: analysis.uncacheable };
  const fieldsText = analysis.fields.map((f) => `input.${f.join('.')}`).join(', ') || 'no input field';
  if (analysis.nondeterministic.length > 0) {
    if (settings.nondeterministicTtlMs <= 0) {
      return {
        enabled: false,
        why: `the policy calls non-deterministic builtins (${analysis.nondeterministic.join(', ')}); set decision_cache_nondeterministic_ttl_ms to cache it anyway`,
      };
    }
    return {
      enabled: true,
      fields: analysis.fields,
      ttlMs: settings.nondeterministicTtlMs,
      why: `keyed on ${fieldsText}; non-deterministic builtins (${analysis.nondeterministic.join(', ')}) cached for decision_cache_nondeterministic_ttl_ms`,
    };
  }
  return { enabled: true, fields: analysis.fields, ttlMs: settings.ttlMs, why: `keyed on ${fieldsText}` };
}
