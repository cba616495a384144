/**
 * One JSON line per Check, shaped like OPA's decision-log events
 * (https://www.openpolicyagent.org/docs/management-decision-logs/) plus a `gatehouse` object.
 * Lines are built after the response is sent and written through pino's asynchronous destination
 * with a bounded buffer: when the sink cannot keep up, lines are dropped and counted, never queued
 * without bound and never slowing Checks.
 *
 * What reaches the log is a view of the input, never the input itself: secret headers masked,
 * operator-chosen JSON pointers masked, long header values and bodies truncated.
 */
import type { Outcome } from '../authz/outcome.js';
import { closeSink, GuardedSink, type LineSink } from './log-sink.js';
import { traceContext } from './trace-context.js';

export const MASKED = '[masked]';
/** Headers whose values never reach the log. */
export const MASKED_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']);

export type { LineSink } from './log-sink.js';
export { openDecisionLogSink } from './log-sink.js';

export type LogLineResult = 'written' | 'dropped' | 'sampled_out';


export interface DecisionLogOptions {
  /** The entrypoint path, e.g. envoy/authz/allow. */
  path: string;
  labels: Record<string, string>;
  /** JSON pointers into the event (e.g. /input/parsed_body/password) whose values are masked; `*` matches every child. */
  maskPointers: readonly string[];
  /** Header values and bodies longer than this are truncated in the log (never in the decision). */
  maxValueBytes: number;
  /** Share of allow decisions logged, 0-100; denies and errors are always logged. */
  allowSamplePercent: number;
  random?: () => number;
  /** Called (at most once a minute) when the sink fails; lines are dropped and counted meanwhile. */
  onSinkError?: (error: Error | undefined) => void;
}


export class DecisionLog {
  readonly #sink: LineSink | undefined;
  readonly #options: DecisionLogOptions;
  readonly #pointers: string[][];
  readonly #onLine: (result: LogLineResult) => void;
  readonly #random: () => number;
  /** The parts of every line that depend only on the options, serialised once. */
  readonly #prepared: PreparedOptions;
  /** The sink with its drops and failures handled (undefined: decision_log off). */
  readonly #guard: GuardedSink | undefined;

  constructor(sink: LineSink | undefined, options: DecisionLogOptions, onLine: (result: LogLineResult) => void) {
    this.#sink = sink;
    this.#options = options;
    this.#pointers = options.maskPointers.map(parsePointer);
    // The raw body holds whatever parsed_body holds: masking a field of one must mask the other.
    if (this.#pointers.some((p) => p[0] === 'input' && p[1] === 'parsed_body')) {
      this.#pointers.push(['input', 'attributes', 'request', 'http', 'body'], ['input', 'attributes', 'request', 'http', 'rawBody']);
    }
    this.#onLine = onLine;
    this.#random = options.random ?? Math.random;
    this.#prepared = prepareOptions(options);
    this.#guard = sink && new GuardedSink(sink, (error) => options.onSinkError?.(error));
  }

  record(outcome: Outcome, extra: Record<string, unknown> = {}, now: Date = new Date()): void {
    if (!this.#guard) return;
    if (outcome.allowed && this.#options.allowSamplePercent < 100 && this.#random() * 100 >= this.#options.allowSamplePercent) {
      this.#onLine('sampled_out');
      return;
    }
    let line: string;
    try {
      line = this.#pointers.length === 0 ? decisionLine(outcome, this.#prepared, now, extra) : this.#maskedLine(outcome, extra, now);
    } catch (error) {
      // Unserialisable (should not happen: inputs are depth-limited); log what can be logged.
      line = JSON.stringify({ decision_id: outcome.decisionId, timestamp: now.toISOString(), path: this.#options.path, gatehouse: { outcome: outcome.allowed ? 'allow' : 'deny', reason_code: outcome.reasonLabel, log_error: String(error) } });
    }
    this.#onLine(this.#guard.write(`${line}\n`));
  }

  /** With mask_pointers: the event as objects, masked by pointer, then serialised (the general path). */
  #maskedLine(outcome: Outcome, extra: Record<string, unknown>, now: Date): string {
    let event = decisionEvent(outcome, this.#options, now);
    Object.assign(event.gatehouse as Record<string, unknown>, extra);
    for (const pointer of this.#pointers) event = maskAt(event, pointer, 0) as Record<string, unknown>;
    return JSON.stringify(event);
  }

  /**
   * Flush what is buffered, waiting at most `timeoutMs`, then close the sink. A stalled sink must
   * not block shutdown: what it has not taken by then is discarded.
   */
  close(timeoutMs: number): Promise<'flushed' | 'timed_out'> {
    return closeSink(this.#sink, timeoutMs);
  }
}

type LoggedHttp = {
  headers?: Record<string, string>;
  headerMap?: { headers?: { key?: string; value?: string; rawValue?: string }[] };
  body?: string;
  rawBody?: string;
};

/** What the options contribute to every line, serialised once at construction. */
interface PreparedOptions {
  pathJson: string;
  labelsJson: string;
  maxValueBytes: number;
}

function prepareOptions(options: Pick<DecisionLogOptions, 'path' | 'labels' | 'maxValueBytes'>): PreparedOptions {
  return { pathJson: JSON.stringify(options.path), labelsJson: JSON.stringify(options.labels), maxValueBytes: options.maxValueBytes };
}

/**
 * The decision-log event as an object (what `decisionLine` serialises); with mask pointers, the
 * object the pointers are applied to.
 */
export function decisionEvent(outcome: Outcome, options: Pick<DecisionLogOptions, 'path' | 'labels' | 'maxValueBytes'>, now: Date): Record<string, unknown> {
  const input = outcome.input as unknown as Record<string, unknown> | undefined;
  const event: Record<string, unknown> = {
    decision_id: outcome.decisionId,
    timestamp: now.toISOString(),
    path: options.path,
    input: input ? logView(input, options.maxValueBytes) : undefined,
    labels: options.labels,
    metrics: eventMetrics(outcome),
  };
  const trace = traceContext(httpOf(input)?.headers);
  if (trace) {
    event.trace_id = trace.trace_id;
    event.span_id = trace.span_id;
  }
  if (outcome.error) event.error = { code: outcome.error.code, message: outcome.error.message };
  else event.result = outcome.result;
  if (outcome.revision !== undefined) event.bundles = { main: { revision: outcome.revision } };
  event.gatehouse = gatehouseSection(outcome);
  return event;
}

/**
 * The line (without its newline) for an event without mask pointers: the same text as
 * `JSON.stringify(decisionEvent(...))` with `extra` merged into `gatehouse` (the unit tests hold
 * the two equal), composed from parts instead of serialising one event object. When the logged
 * view of the input is the input itself (no secret header, nothing to truncate) and the policy
 * evaluated it, the text the policy was given (`outcome.inputJson`) is reused: the input is then
 * serialised once per Check, not twice.
 */
export function decisionLine(outcome: Outcome, prepared: PreparedOptions, now: Date, extra: Record<string, unknown> = {}): string {
  const input = outcome.input as unknown as Record<string, unknown> | undefined;
  let line = `{"decision_id":${JSON.stringify(outcome.decisionId)},"timestamp":${JSON.stringify(now.toISOString())},"path":${prepared.pathJson}`;
  if (input) {
    const view = logView(input, prepared.maxValueBytes);
    line += `,"input":${view === input && outcome.inputJson !== undefined ? outcome.inputJson : JSON.stringify(view)}`;
  }
  line += `,"labels":${prepared.labelsJson},"metrics":${JSON.stringify(eventMetrics(outcome))}`;
  const trace = traceContext(httpOf(input)?.headers);
  if (trace) line += `,"trace_id":${JSON.stringify(trace.trace_id)},"span_id":${JSON.stringify(trace.span_id)}`;
  if (outcome.error) {
    line += `,"error":${JSON.stringify({ code: outcome.error.code, message: outcome.error.message })}`;
  } else {
    const result = JSON.stringify(outcome.result);
    if (result !== undefined) line += `,"result":${result}`;
  }
  if (outcome.revision !== undefined) line += `,"bundles":{"main":{"revision":${JSON.stringify(outcome.revision)}}}`;
  return `${line},"gatehouse":${JSON.stringify(Object.assign(gatehouseSection(outcome), extra))}}`;
}

function eventMetrics(outcome: Outcome): Record<string, number> {
  return {
    timer_gatehouse_input_ns: outcome.timings.inputNs,
    timer_rego_query_eval_ns: outcome.timings.evalNs,
    timer_server_handler_ns: outcome.timings.totalNs,
  };
}

function gatehouseSection(outcome: Outcome): Record<string, unknown> {
  const identity = outcome.input?.identity;
  const gatehouse: Record<string, unknown> = {
    outcome: outcome.allowed ? 'allow' : 'deny',
    reason_code: outcome.reasonLabel,
    reason: outcome.reason,
    http_status: outcome.allowed ? 200 : outcome.httpStatus,
    cache: outcome.cache,
    source_principal: identity?.source.principal ?? null,
    source_spiffe_valid: identity?.source.valid ?? false,
  };
  if (identity?.source_certificate) gatehouse.source_certificate = { valid: identity.source_certificate.valid, errors: identity.source_certificate.errors };
  if (outcome.hygiene) gatehouse.hygiene = outcome.hygiene;
  if (outcome.builtinErrors) gatehouse.builtin_errors = outcome.builtinErrors;
  return gatehouse;
}

function httpOf(input: Record<string, unknown> | undefined): LoggedHttp | undefined {
  return (input?.attributes as { request?: { http?: LoggedHttp } } | undefined)?.request?.http;
}

/**
 * The input as logged: secret headers masked (in `headers` and `header_map`), long header values
 * and bodies truncated. Objects are copied along the changed paths only; the input the policy
 * evaluated is left untouched, and returned itself when nothing needs changing.
 */
function logView(input: Record<string, unknown>, maxValueBytes: number): Record<string, unknown> {
  const http = httpOf(input);
  if (!http) return input;
  const headers = http.headers && headersNeedView(http.headers, maxValueBytes) ? headersView(http.headers, maxValueBytes) : http.headers;
  const list = http.headerMap?.headers;
  const headerMap = list && headerMapNeedsView(list, maxValueBytes) ? { headers: list.map((h) => headerMapEntryView(h, maxValueBytes)) } : http.headerMap;
  const body = http.body === undefined ? undefined : truncate(http.body, maxValueBytes);
  const rawBody = http.rawBody === undefined ? undefined : truncate(http.rawBody, maxValueBytes);
  if (headers === http.headers && headerMap === http.headerMap && body === http.body && rawBody === http.rawBody) return input;
  const view: LoggedHttp = { ...http };
  if (headers) view.headers = headers;
  if (headerMap) view.headerMap = headerMap;
  if (body !== undefined) view.body = body;
  if (rawBody !== undefined) view.rawBody = rawBody;
  const attributes = input.attributes as { request: { http: LoggedHttp } };
  return { ...input, attributes: { ...attributes, request: { ...attributes.request, http: view } } };
}

function headersNeedView(headers: Record<string, string>, maxValueBytes: number): boolean {
  for (const name in headers) {
    if (MASKED_HEADERS.has(name) || isLong(headers[name]!, maxValueBytes)) return true;
  }
  return false;
}

function headersView(headers: Record<string, string>, maxValueBytes: number): Record<string, string> {
  const view: Record<string, string> = {};
  for (const name in headers) view[name] = MASKED_HEADERS.has(name) ? MASKED : truncate(headers[name]!, maxValueBytes);
  return view;
}

type HeaderMapEntry = NonNullable<NonNullable<LoggedHttp['headerMap']>['headers']>[number];

function headerMapNeedsView(list: readonly HeaderMapEntry[], maxValueBytes: number): boolean {
  for (const h of list) {
    if (MASKED_HEADERS.has((h.key ?? '').toLowerCase())) return true;
    if ((h.value !== undefined && isLong(h.value, maxValueBytes)) || (h.rawValue !== undefined && isLong(h.rawValue, maxValueBytes))) return true;
  }
  return false;
}

function headerMapEntryView(h: HeaderMapEntry, maxValueBytes: number): HeaderMapEntry {
  if (MASKED_HEADERS.has((h.key ?? '').toLowerCase())) return { key: h.key, value: MASKED };
  return { key: h.key, ...(h.value !== undefined ? { value: truncate(h.value, maxValueBytes) } : {}), ...(h.rawValue !== undefined ? { rawValue: truncate(h.rawValue, maxValueBytes) } : {}) };
}

/** Whether `truncate` would shorten the value. */
function isLong(value: string, maxBytes: number): boolean {
  return value.length > maxBytes / 4 && Buffer.byteLength(value) > maxBytes;
}

function truncate(value: string, maxBytes: number): string {
  if (!isLong(value, maxBytes)) return value;
  const kept = Buffer.from(value).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
  return `${kept}…[truncated ${Buffer.byteLength(value) - Buffer.byteLength(kept)} bytes]`;
}

/** RFC 6901 JSON pointer → segments (`~1` is "/", `~0` is "~"). */
export function parsePointer(pointer: string): string[] {
  if (!pointer.startsWith('/')) throw new Error(`JSON pointer must start with "/": ${pointer}`);
  return pointer.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** A copy of `node` with the value(s) at `pointer` replaced by MASKED; unchanged when absent. */
function maskAt(node: unknown, pointer: readonly string[], depth: number): unknown {
  if (depth === pointer.length) return MASKED;
  if (node === null || typeof node !== 'object') return node;
  const segment = pointer[depth]!;
  if (Array.isArray(node)) {
    if (segment === '*') return node.map((child) => maskAt(child, pointer, depth + 1));
    const index = /^(0|[1-9]\d*)$/.test(segment) ? Number(segment) : -1;
    if (index < 0 || index >= node.length) return node;
    const copy = [...node];
    copy[index] = maskAt(node[index], pointer, depth + 1);
    return copy;
  }
  const object = node as Record<string, unknown>;
  if (segment === '*') {
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(object)) copy[key] = maskAt(value, pointer, depth + 1);
    return copy;
  }
  if (!Object.prototype.hasOwnProperty.call(object, segment)) return node;
  return { ...object, [segment]: maskAt(object[segment], pointer, depth + 1) };
}
