/**
 * One decision-log event → one observed call (caller → destination, method, path segments), or
 * why it cannot be learned from. Only what the example policy matches on is read: the parsed
 * SPIFFE identities (`input.identity.source` / `.destination`, re-validated here), the method and
 * `input.parsed_path` (the segments the policy compares, decoded once, without the query).
 *
 * Masked values (decision_log_mask, "[masked]") are never learned: an event with any of those
 * fields masked, in any of the places it appears, is counted and set aside whole.
 */
import { parseSpiffeId } from '../identity/spiffe.js';
import { MASKED } from '../observability/decision-log.js';
import type { LoggedDecision } from '../commands/decision-log-lines.js';
import { templateParts } from './path-template.js';

/** Why a logged call is not learned from. */
export type NotLearned =
  /** The policy denied it and the deny was enforced: the call did not happen. */
  | 'denied'
  /** Refused before or outside the policy (request hygiene, parse error, identity checks, ...). */
  | 'refused'
  | 'masked'
  | 'no_caller'
  | 'no_destination'
  /** A method or path segment the allow-list cannot state literally. */
  | 'unusable_path';

export interface Observation {
  caller: string;
  destination: string;
  /** A name for the destination (the Istio service account, else the last path segment). */
  destinationName: string;
  method: string;
  /** input.parsed_path: ["api", "v1", "orders", "42"]; the root is [""]. */
  segments: string[];
  /** Milliseconds since the epoch, when the line has a valid timestamp. */
  time: number | undefined;
  /** What the policy that served decided (in dry-run the call happened anyway). */
  policyAllowed: boolean;
  reasonCode: string;
  /** Whether the call went through: allowed, or a deny dry-run answered with allow. */
  happened: boolean;
  dryRun: boolean;
}

/** Outcomes of the policy itself; a dry-run deny with one of these reached the service. Others (request hygiene, parse errors, identity) are refusals. */
const POLICY_REASONS: ReadonlySet<string> = new Set([
  'policy_allowed',
  'policy_denied',
  'decision_undefined',
  'decision_invalid',
  'eval_error',
  'eval_timeout',
  'eval_queue_full',
  'policy_not_loaded',
  'deadline_exceeded',
]);

/** A token as RFC 9110 defines a method. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A template variable as policies/authz.rego reads one (is_variable: "{...}"); an observed segment of this shape cannot be written literally. */
export const VARIABLE_SHAPE = /^\{[^]*\}$/;

/**
 * What one event gave: the observation when the call is whole (also for calls not learned from:
 * a denied call still counts for the review), else the caller when it was valid and unmasked;
 * `notLearned` when the call is not learned from.
 */
export interface ObservationResult {
  observation?: Observation;
  caller?: string;
  notLearned?: NotLearned;
  /** With notLearned 'masked': which of the fields read were masked, e.g. "the :path header" (names only, never values). */
  maskedFields?: string[];
}

/** The observation in `event`, or why it is not learned from. */
export function observe(event: LoggedDecision): ObservationResult {
  const input = event.input as Record<string, any>;
  const g = event.gatehouse;
  const http = input.attributes?.request?.http;
  // Every place the caller, destination, method or path appears: any one masked sets the event aside.
  const places: [string, unknown][] = [
    ['input.identity', input.identity],
    ['input.identity.source', input.identity?.source],
    ['input.identity.destination', input.identity?.destination],
    ['input.identity.source.spiffe_id', input.identity?.source?.spiffe_id],
    ['input.identity.destination.spiffe_id', input.identity?.destination?.spiffe_id],
    ['input.identity.source.principal', input.identity?.source?.principal],
    ['input.identity.destination.principal', input.identity?.destination?.principal],
    ['input.attributes.source.principal', input.attributes?.source?.principal],
    ['input.attributes.destination.principal', input.attributes?.destination?.principal],
    ['input.attributes', input.attributes],
    ['input.attributes.request', input.attributes?.request],
    ['input.attributes.request.http', http],
    ['input.attributes.request.http.method', http?.method],
    ['input.attributes.request.http.path', http?.path],
    ['the :method header', http?.headers?.[':method']],
    ['the :path header', http?.headers?.[':path']],
    ['input.parsed_path', input.parsed_path],
    ['gatehouse.source_principal', g.source_principal],
  ];
  const maskedFields = places.filter(([, v]) => v === MASKED).map(([name]) => name);
  if (Array.isArray(input.parsed_path) && input.parsed_path.some((s: unknown) => s === MASKED)) maskedFields.push('a segment of input.parsed_path');
  if (maskedFields.length > 0) return { notLearned: 'masked', maskedFields };

  const caller = validSpiffeId(input.identity?.source);
  if (caller === undefined) return { notLearned: 'no_caller' };
  const destinationId = validSpiffeId(input.identity?.destination);
  if (destinationId === undefined) return { notLearned: 'no_destination', caller };
  const method = http?.method;
  const segments = input.parsed_path;
  if (typeof method !== 'string' || !METHOD.test(method)) return { notLearned: 'unusable_path', caller };
  if (!Array.isArray(segments) || segments.length === 0 || !segments.every(literalSegment)) return { notLearned: 'unusable_path', caller };

  const reasonCode = typeof g.reason_code === 'string' ? g.reason_code : '';
  const policyAllowed = g.outcome === 'allow';
  const dryRun = g.dry_run === true;
  const happened = policyAllowed || g.enforced === 'allow';
  const time = typeof event.timestamp === 'string' ? Date.parse(event.timestamp) : Number.NaN;
  const observation: Observation = {
    caller,
    destination: destinationId,
    destinationName: destinationName(destinationId),
    method,
    segments: segments as string[],
    time: Number.isFinite(time) ? time : undefined,
    policyAllowed,
    reasonCode,
    happened,
    dryRun,
  };
  if (!POLICY_REASONS.has(reasonCode)) return { observation, caller, notLearned: 'refused' };
  if (!happened) return { observation, caller, notLearned: 'denied' };
  return { observation, caller };
}

/**
 * A segment the allow-list can name literally: a string with no "/" (an encoded one decoded) that
 * the policy would not read as a variable ("{id}") or a template segment ("sku-{int}",
 * "{uuid}.json": one "{name}" between literal parts; templateParts).
 */
function literalSegment(segment: unknown): boolean {
  return typeof segment === 'string' && !segment.includes('/') && !VARIABLE_SHAPE.test(segment) && templateParts(segment) === undefined;
}

/** The SPIFFE ID of a logged identity, when it is valid and parses as the one claimed (a log line is not trusted blindly). */
function validSpiffeId(identity: unknown): string | undefined {
  if (!identity || typeof identity !== 'object') return undefined;
  const { valid, spiffe_id: id } = identity as { valid?: unknown; spiffe_id?: unknown };
  if (valid !== true || typeof id !== 'string') return undefined;
  const parsed = parseSpiffeId(id);
  return parsed.valid && parsed.spiffe_id === id ? id : undefined;
}

function destinationName(id: string): string {
  const parsed = parseSpiffeId(id);
  if (!parsed.valid) return id;
  return parsed.service_account ?? parsed.segments.at(-1) ?? parsed.trust_domain;
}
