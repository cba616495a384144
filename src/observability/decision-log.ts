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
import type { LineSink } from './log-sink.js';
import { traceContext } from './trace-context.js';

export const MASKED = '[masked]';
/** Headers whose values never reach the log. */
export const MASKED_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']);

export type { LineSink } from './log-sink.js';
export { openDecisionLogSink } from './log-sink.js';

export type LogLineResult = 'written' | 'dropped' | 'sampled_out';

/** After a sink error, how long lines are dropped before the sink is reopened and tried again. */
const SINK_RETRY_MS = 10_000;

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
  #dropped = false;

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
    sink?.on?.('drop', () => {
      this.#dropped = true;
    });
    // A failing sink (disk full, closed file) loses lines, never the process: without a
    // listener, the 'error' event would be thrown.
    sink?.on?.('error', (error) => {
      this.#dropped = true;
      this.#failedAtMs = Date.now();
      this.#onSinkError(error);
    });
  }

  #lastSinkErrorMs = 0;
  /** When the sink last failed; for SINK_RETRY_MS after that, lines are dropped without trying. */
  #failedAtMs: number | undefined;

  /** Report sink errors to the operational log at most once a minute. */
  #onSinkError(error: Error | undefined): void {
    const now = Date.now();
    if (now - this.#lastSinkErrorMs < 60_000) return;
    this.#lastSinkErrorMs = now;
    this.#options.onSinkError?.(error);
  }

  record(outcome: Outcome, extra: Record<string, unknown> = {}, now: Date = new Date()): void {
    if (!this.#sink) return;
    if (outcome.allowed && this.#options.allowSamplePercent < 100 && this.#random() * 100 >= this.#options.allowSamplePercent) {
      this.#onLine('sampled_out');
      return;
    }
    let event = decisionEvent(outcome, this.#options, now);
    Object.assign(event.gatehouse as Record<string, unknown>, extra);
    for (const pointer of this.#pointers) event = maskAt(event, pointer, 0) as Record<string, unknown>;
    let line: string;
    try {
      line = JSON.stringify(event);
    } catch (error) {
      // Unserialisable (should not happen: inputs are depth-limited); log what can be logged.
      line = JSON.stringify({ decision_id: outcome.decisionId, timestamp: now.toISOString(), path: this.#options.path, gatehouse: { outcome: outcome.allowed ? 'allow' : 'deny', reason_code: outcome.reasonLabel, log_error: String(error) } });
    }
    if (this.#failedAtMs !== undefined) {
      if (Date.now() - this.#failedAtMs < SINK_RETRY_MS) {
        this.#onLine('dropped');
        return;
      }
      this.#failedAtMs = undefined;
      try {
        this.#sink.reopen?.();
      } catch {
        // The next write fails and reports again.
      }
    }
    this.#dropped = false;
    try {
      this.#sink.write(`${line}\n`);
    } catch (error) {
      // A sink that failed earlier throws on write ("SonicBoom destroyed"): count, do not crash.
      this.#dropped = true;
      this.#onSinkError(error as Error);
    }
    this.#onLine(this.#dropped ? 'dropped' : 'written');
  }

  /**
   * Flush what is buffered, waiting at most `timeoutMs`, then close the sink. A stalled sink must
   * not block shutdown: what it has not taken by then is discarded.
   */
  close(timeoutMs: number): Promise<'flushed' | 'timed_out'> {
    const sink = this.#sink;
    if (!sink?.flush) return Promise.resolve('flushed');
    return new Promise<'flushed' | 'timed_out'>((resolve) => {
      const timer = setTimeout(() => resolve('timed_out'), timeoutMs);
      timer.unref();
      try {
        sink.flush!(() => {
          clearTimeout(timer);
          resolve('flushed');
        });
      } catch {
        clearTimeout(timer);
        resolve('flushed');
      }
    }).then((result) => {
      if (result === 'timed_out') sink.destroy?.();
      return result;
    });
  }
}

type LoggedHttp = {
  headers?: Record<string, string>;
  headerMap?: { headers?: { key?: string; value?: string; rawValue?: string }[] };
  body?: string;
  rawBody?: string;
};

export function decisionEvent(outcome: Outcome, options: Pick<DecisionLogOptions, 'path' | 'labels' | 'maxValueBytes'>, now: Date): Record<string, unknown> {
  const input = outcome.input as unknown as Record<string, unknown> | undefined;
  const http = (input?.attributes as { request?: { http?: LoggedHttp } } | undefined)?.request?.http;
  const event: Record<string, unknown> = {
    decision_id: outcome.decisionId,
    timestamp: now.toISOString(),
    path: options.path,
    input: input ? logView(input, options.maxValueBytes) : undefined,
    labels: options.labels,
    metrics: {
      timer_gatehouse_input_ns: outcome.timings.inputNs,
      timer_rego_query_eval_ns: outcome.timings.evalNs,
      timer_server_handler_ns: outcome.timings.totalNs,
    },
  };
  const trace = traceContext(http?.headers);
  if (trace) {
    event.trace_id = trace.trace_id;
    event.span_id = trace.span_id;
  }
  if (outcome.error) event.error = { code: outcome.error.code, message: outcome.error.message };
  else event.result = outcome.result;
  if (outcome.revision !== undefined) event.bundles = { main: { revision: outcome.revision } };
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
  event.gatehouse = gatehouse;
  return event;
}

/**
 * The input as logged: secret headers masked (in `headers` and `header_map`), long header values
 * and bodies truncated. Objects are copied along the changed paths only; the input the policy
 * evaluated is left untouched.
 */
function logView(input: Record<string, unknown>, maxValueBytes: number): Record<string, unknown> {
  const attributes = input.attributes as { request?: { http?: LoggedHttp } } | undefined;
  const http = attributes?.request?.http;
  if (!http) return input;
  const view: LoggedHttp = { ...http };
  if (http.headers) {
    view.headers = {};
    for (const [name, value] of Object.entries(http.headers)) view.headers[name] = MASKED_HEADERS.has(name) ? MASKED : truncate(value, maxValueBytes);
  }
  if (http.headerMap?.headers) {
    view.headerMap = {
      headers: http.headerMap.headers.map((h) =>
        MASKED_HEADERS.has((h.key ?? '').toLowerCase())
          ? { key: h.key, value: MASKED }
          : { key: h.key, ...(h.value !== undefined ? { value: truncate(h.value, maxValueBytes) } : {}), ...(h.rawValue !== undefined ? { rawValue: truncate(h.rawValue, maxValueBytes) } : {}) },
      ),
    };
  }
  if (http.body !== undefined) view.body = truncate(http.body, maxValueBytes);
  if (http.rawBody !== undefined) view.rawBody = truncate(http.rawBody, maxValueBytes);
  return { ...input, attributes: { ...attributes, request: { ...attributes!.request, http: view } } };
}

function truncate(value: string, maxBytes: number): string {
  if (value.length <= maxBytes / 4 || Buffer.byteLength(value) <= maxBytes) return value;
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
