/**
 * The request-hygiene stage (docs/input.md#request-hygiene): between decoding and the policy,
 * gatehouse refuses requests a backend could read differently than the policy does. Pure; the
 * input builder calls it in three places of one pass: the request line and headers before
 * anything is parsed, the decoded path and query, and a body before it is parsed.
 */
export { screenRequestLine, type RequestLine } from './request.js';
export { screenPath, screenQuery } from './target.js';
export { screenBody, screenJson, screenMultipartFields, screenPart, type PartDisposition } from './body.js';
export { bodyKind, partIsJson, isJsonMediaType, type BodyKind } from './media-type.js';
export { HygieneRefusal } from './refusal.js';
export { HYGIENE_RULES, HYGIENE_RULE_IDS, SWITCHABLE_RULE_IDS, type HygieneRuleId, type LimitKey } from './rules.js';
export { COMPATIBLE, DEFAULT_LIMITS, STRICT, hygieneSettings, type HygieneLimits, type HygieneMode, type HygieneSettings } from './settings.js';
export type { CanonicalHost } from './host.js';
