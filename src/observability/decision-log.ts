/**
 * One JSON line per Check, shaped like OPA's decision-log events
 * (https://www.openpolicyagent.org/docs/management-decision-logs/) plus a `gatehouse` object.
 * Lines are built after the response is sent and written through pino's asynchronous destination
 * with a bounded buffer: when the sink cannot keep up, lines are dropped and counted, never queued
 * without bound.
 */
import pino from 'pino';
import type { Outcome } from '../authz/outcome.js';

export const MASKED = '[masked]';
/** Headers whose values never reach the log. */
export const MASKED_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']);

export interface DecisionLogContext {
  /** The entrypoint path, e.g. envoy/authz/allow. */
  path: string;
  labels: Record<string, string>;
}

export interface LineSink {
  write(line: string): void;
  flushSync?(): void;
  end?(): void;
}

export class DecisionLog {
  readonly #sink: LineSink | undefined;
  readonly #context: DecisionLogContext;
  readonly #onLine: (result: 'written' | 'dropped') => void;
  #dropped = false;

  constructor(sink: LineSink | undefined, context: DecisionLogContext, onLine: (result: 'written' | 'dropped') => void) {
    this.#sink = sink;
    this.#context = context;
    this.#onLine = onLine;
    const emitter = sink as unknown as { on?: (event: string, fn: () => void) => void };
    emitter?.on?.('drop', () => {
      this.#dropped = true;
    });
  }

  get enabled(): boolean {
    return this.#sink !== undefined;
  }

  record(outcome: Outcome, now: Date = new Date()): void {
    if (!this.#sink) return;
    this.#dropped = false;
    this.#sink.write(`${JSON.stringify(decisionEvent(outcome, this.#context, now))}\n`);
    this.#onLine(this.#dropped ? 'dropped' : 'written');
  }

  flush(): void {
    try {
      this.#sink?.flushSync?.();
    } catch {
      // A sink that cannot flush at shutdown (closed pipe) must not stop the shutdown.
    }
  }
}

/**
 * The destination for `decision_log`: stdout, stderr, or a file, asynchronous, with a bounded
 * buffer (lines beyond it are dropped and reported through the 'drop' event).
 */
export function openDecisionLogSink(target: string, maxBufferBytes = 8 * 1024 * 1024): LineSink | undefined {
  if (target === 'off') return undefined;
  const dest = target === 'stdout' ? 1 : target === 'stderr' ? 2 : target;
  return pino.destination({ dest, sync: false, minLength: 0, maxLength: maxBufferBytes, mkdir: true }) as unknown as LineSink;
}

export function decisionEvent(outcome: Outcome, context: DecisionLogContext, now: Date): Record<string, unknown> {
  const event: Record<string, unknown> = {
    decision_id: outcome.decisionId,
    timestamp: now.toISOString(),
    path: context.path,
    input: outcome.input ? maskInput(outcome.input as unknown as Record<string, unknown>) : undefined,
    labels: context.labels,
    metrics: {
      timer_gatehouse_input_ns: outcome.timings.inputNs,
      timer_rego_query_eval_ns: outcome.timings.evalNs,
      timer_server_handler_ns: outcome.timings.totalNs,
    },
  };
  if (outcome.error) event.error = { code: outcome.error.code, message: outcome.error.message };
  else event.result = outcome.result;
  if (outcome.revision !== undefined) event.bundles = { main: { revision: outcome.revision } };
  const source = outcome.input?.identity.source;
  event.gatehouse = {
    outcome: outcome.allowed ? 'allow' : 'deny',
    reason_code: outcome.reasonLabel,
    reason: outcome.reason,
    http_status: outcome.allowed ? 200 : outcome.httpStatus,
    cache: outcome.cache,
    source_principal: source?.principal ?? null,
    source_spiffe_valid: source?.valid ?? false,
  };
  const certificate = outcome.input?.identity.source_certificate;
  if (certificate) (event.gatehouse as Record<string, unknown>).source_certificate = { valid: certificate.valid, errors: certificate.errors };
  return event;
}

type HeaderEntry = { key?: string; value?: string; rawValue?: string };
type LoggedHttp = { headers?: Record<string, string>; headerMap?: { headers?: HeaderEntry[] } };

/**
 * A copy of the input with secret headers masked, in `headers` and in `header_map`; the input
 * itself is left as the policy saw it.
 */
function maskInput(input: Record<string, unknown>): Record<string, unknown> {
  const attributes = input.attributes as { request?: { http?: LoggedHttp } } | undefined;
  const http = attributes?.request?.http;
  if (!http) return input;
  const headers = http.headers;
  const list = http.headerMap?.headers;
  const secretInMap = list?.some((h) => MASKED_HEADERS.has((h.key ?? '').toLowerCase())) ?? false;
  const secretInHeaders = headers !== undefined && Object.keys(headers).some((h) => MASKED_HEADERS.has(h));
  if (!secretInMap && !secretInHeaders) return input;
  const masked: LoggedHttp = { ...http };
  if (secretInHeaders) {
    masked.headers = {};
    for (const [name, value] of Object.entries(headers!)) masked.headers[name] = MASKED_HEADERS.has(name) ? MASKED : value;
  }
  if (secretInMap) {
    masked.headerMap = {
      headers: list!.map((h) => (MASKED_HEADERS.has((h.key ?? '').toLowerCase()) ? { key: h.key, value: MASKED } : h)),
    };
  }
  return { ...input, attributes: { ...attributes, request: { ...attributes!.request, http: masked } } };
}
