/**
 * The OpenTelemetry SDK behind `tracing: otlp` (loaded lazily by tracing.ts). Per Check, one
 * SERVER span named after the RPC (`envoy.service.auth.v3.Authorization/Check`) with children
 * `gatehouse.input` (CheckRequest → input document), `gatehouse.cache` (key and lookup, when the
 * policy is cacheable) and `gatehouse.evaluate` (serialising the input and running the policy,
 * on this thread or an evaluation thread), all built after the response from measured timestamps.
 *
 * Parent: the span context in the gRPC metadata (Envoy's own ext_authz span, when Envoy traces),
 * else in the checked request's headers (`attributes.request.http.headers`: the application's
 * trace), W3C `traceparent`/`tracestate` or B3 (single or multi-header). Sampling is the SDK's,
 * from OTEL_TRACES_SAMPLER (default parentbased_always_on: a sampled parent is followed).
 * Spans are queued in a BatchSpanProcessor (bounded: OTEL_BSP_MAX_QUEUE_SIZE, default here 8192; spans
 * past it are dropped) and exported over OTLP/HTTP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT
 * (default http://localhost:4318) on a timer, never while a Check waits.
 *
 * Span attributes follow the OpenTelemetry RPC and HTTP conventions where one fits
 * (https://opentelemetry.io/docs/specs/semconv/rpc/grpc/), `gatehouse.*` otherwise.
 */
import { hostname } from 'node:os';
import type { Metadata } from '@grpc/grpc-js';
import { DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, diag, trace, type Attributes, type Context, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { B3Propagator } from '@opentelemetry/propagator-b3';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Outcome } from '../authz/outcome.js';
import { VERSION } from '../version.js';
import type { Logger } from './logger.js';
import { withoutCredentials } from './remote-log-sink.js';
import type { CheckTracer, TracedCall } from './tracing.js';

export const CHECK_SPAN_NAME = 'envoy.service.auth.v3.Authorization/Check';

const DEFAULT_MAX_QUEUE_SIZE = 8192;

/** Codes that mean gatehouse could not decide (its own failure), as opposed to a deny. */
const ERROR_STATUS_MIN = 500;

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key).filter((v): v is string => typeof v === 'string');
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};

const headersGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** B3 single header as the B3 spec writes it: `{traceid: 16 or 32 hex}-{spanid}[-{sampled: 0, 1, d}[-{parentspanid}]]`. */
const B3_SINGLE = /^\s*(?:[0-9a-f]{16}|[0-9a-f]{32})-[0-9a-f]{16}(?:-[01d](?:-[0-9a-f]{16})?)?\s*$/;
const B3_TRACE_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * The getter for the B3 propagator, hiding B3 headers that are not well formed: the SDK's single
 * header pattern is not anchored (`b3: <29 hex>-<span id>` became a parent whose trace id is the
 * last 16 of the 29) and its multi-header form pads a trace id of any length to 32. A malformed
 * `b3` falls back to the x-b3-* headers, as the decision log's trace_id does (trace-context.ts).
 */
function strictB3<T>(getter: TextMapGetter<T>): TextMapGetter<T> {
  return {
    keys: (carrier) => getter.keys(carrier),
    get: (carrier, key) => {
      const value = getter.get(carrier, key);
      if (key === 'b3') return B3_SINGLE.test(first(value) ?? '') ? value : undefined;
      if (key === 'x-b3-traceid') return B3_TRACE_ID.test(first(value) ?? '') ? value : undefined;
      return value;
    },
  };
}

export interface OtelTracerOptions {
  logger: Logger;
  /** config.instance: the service.instance.id resource attribute (default: the host name). */
  instance?: string;
  /** The cluster worker slot, as the gatehouse.worker resource attribute. */
  worker?: number;
}

export function createOtelTracer(options: OtelTracerOptions): CheckTracer {
  const diagnostics = routeDiagnostics(options.logger);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) override these defaults.
  const resource = resourceFromAttributes({
    'service.name': 'gatehouse',
    'service.version': VERSION,
    'service.instance.id': options.instance ?? hostname(),
    'process.pid': process.pid,
    ...(options.worker !== undefined && { 'gatehouse.worker': options.worker }),
  }).merge(detectResources({ detectors: [envDetector] }));
  // Sampler from OTEL_TRACES_SAMPLER/_ARG; exporter from OTEL_EXPORTER_OTLP_*; batch limits from OTEL_BSP_*.
  // A Check makes up to 4 spans: the queue holds 8192 (about 2000 Checks, a few MiB) unless
  // OTEL_BSP_MAX_QUEUE_SIZE says otherwise (the SDK's 2048 fills in half a second at 1000 Checks/s).
  const queue = process.env.OTEL_BSP_MAX_QUEUE_SIZE ? {} : { maxQueueSize: DEFAULT_MAX_QUEUE_SIZE };
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), queue)] });
  const tracer = provider.getTracer('gatehouse', VERSION);
  diagnostics.started();
  // This exporter speaks OTLP/HTTP protobuf only; the SDK ignores a protocol variable without a word.
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = process.env[name]?.trim();
    if (protocol && protocol !== 'http/protobuf') {
      options.logger.warn({ [name.toLowerCase()]: protocol, otel_exporter_otlp_endpoint: endpointForLog() }, `tracing: ${name}=${protocol} is not supported; spans are sent as OTLP/HTTP protobuf to <endpoint>/v1/traces. Fix: unset it, and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's OTLP/HTTP port (4318)`);
      break;
    }
  }
  // W3C first; B3 (single or multi-header) only when there is no valid traceparent.
  const w3c = new W3CTraceContextPropagator();
  const b3 = new B3Propagator();
  const extract = <T>(carrier: T, getter: TextMapGetter<T>): Context | undefined => {
    const fromW3c = w3c.extract(ROOT_CONTEXT, carrier, getter);
    if (trace.getSpanContext(fromW3c)) return fromW3c;
    const fromB3 = b3.extract(ROOT_CONTEXT, carrier, strictB3(getter));
    return trace.getSpanContext(fromB3) ? fromB3 : undefined;
  };
  const origin = performance.timeOrigin;

  const parentOf = (outcome: Outcome, metadata: Metadata | undefined): Context => {
    const fromMetadata = metadata && extract(metadata, metadataGetter);
    if (fromMetadata) return fromMetadata;
    const headers = (outcome.input?.attributes as { request?: { http?: { headers?: Record<string, string> } } } | undefined)?.request?.http?.headers;
    return (headers && extract(headers, headersGetter)) ?? ROOT_CONTEXT;
  };

  return {
    now: () => origin + performance.now(),
    record(outcome, call, dryRun) {
      try {
        recordCheck(tracer, parentOf(outcome, call.metadata), outcome, call, dryRun);
      } catch (error) {
        diag.warn(`recording a Check's spans failed: ${String(error)}`);
      }
    },
    async shutdown(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        provider.shutdown().then(
          () => 'exported' as const,
          () => 'exported' as const, // a failed last export is reported through diag
        ),
        new Promise<'timed_out'>((resolve) => (timer = setTimeout(() => resolve('timed_out'), timeoutMs).unref())),
      ]);
      clearTimeout(timer);
      diag.disable();
      if (done === 'timed_out') {
        options.logger.warn({ timeout_ms: timeoutMs, otel_exporter_otlp_endpoint: endpointForLog() }, 'tracing: the collector did not take the last spans within the shutdown budget; they are lost');
      }
    },
  };
}

type Tracer = ReturnType<BasicTracerProvider['getTracer']>;

function recordCheck(tracer: Tracer, parent: Context, outcome: Outcome, call: TracedCall, dryRun: boolean): void {
  const { startMs, endMs } = call;
  const { timings } = outcome;
  const attributes: Attributes = {
    'rpc.system': 'grpc',
    'rpc.service': 'envoy.service.auth.v3.Authorization',
    'rpc.method': 'Check',
    'rpc.grpc.status_code': 0,
    'gatehouse.decision': outcome.allowed ? 'allow' : 'deny',
    'gatehouse.reason_code': outcome.reasonLabel,
    'gatehouse.decision_id': outcome.decisionId,
    'http.response.status_code': outcome.allowed ? 200 : outcome.httpStatus,
    'gatehouse.cache': outcome.cache,
  };
  if (outcome.revision !== undefined) attributes['gatehouse.policy.revision'] = outcome.revision;
  const source = outcome.input?.identity.source;
  if (source?.valid) attributes['gatehouse.source.spiffe_id'] = source.principal;
  else if (source?.principal) attributes['gatehouse.source.principal'] = source.principal;
  if (dryRun) attributes['gatehouse.dry_run'] = true;
  const span = tracer.startSpan(CHECK_SPAN_NAME, { kind: SpanKind.SERVER, startTime: startMs, attributes }, parent);
  if (outcome.error && outcome.httpStatus >= ERROR_STATUS_MIN) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.code });
  if (span.isRecording()) {
    const context = trace.setSpan(parent, span);
    const at = (ns: number) => startMs + ns / 1e6;
    tracer.startSpan('gatehouse.input', { startTime: startMs }, context).end(at(timings.inputNs));
    if (timings.cacheNs !== undefined) {
      tracer.startSpan('gatehouse.cache', { startTime: at(timings.inputNs), attributes: { 'gatehouse.cache': outcome.cache } }, context).end(at(timings.inputNs + timings.cacheNs));
    }
    if (timings.evalStartNs !== undefined) {
      const evaluation = tracer.startSpan('gatehouse.evaluate', { startTime: at(timings.evalStartNs), attributes: outcome.revision === undefined ? {} : { 'gatehouse.policy.revision': outcome.revision } }, context);
      if (outcome.error && (outcome.error.code === 'eval_error' || outcome.error.code === 'eval_timeout' || outcome.error.code === 'decision_invalid')) {
        evaluation.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.code });
      }
      evaluation.end(at(timings.totalNs));
    }
  }
  // The server span never ends before its children.
  span.end(Math.max(endMs, startMs + timings.totalNs / 1e6));
}

/**
 * The SDK reports through OpenTelemetry's diag API (export failures, a full span queue): its
 * warnings and errors go to the operational log, at most one a minute.
 */
function routeDiagnostics(logger: Logger): { started(): void } {
  let lastMs = Number.NEGATIVE_INFINITY;
  // While the provider is built the SDK reports settings it ignored (an unknown OTEL_TRACES_SAMPLER,
  // a bad _ARG): each is logged as such, and none uses up the minute of the first export failure.
  let starting = true;
  const report = (message: string, ...args: unknown[]) => {
    const detail = [message, ...args.map(String)].join(' ').slice(0, 500);
    if (starting) {
      logger.warn({ detail }, 'tracing: the OpenTelemetry SDK ignored a setting and uses its default (see detail); fix the OTEL_* environment variable it names');
      return;
    }
    const now = Date.now();
    if (now - lastMs < 60_000) return;
    lastMs = now;
    logger.warn(
      { detail, otel_exporter_otlp_endpoint: endpointForLog() },
      'tracing: the OpenTelemetry SDK reports a problem (an export failed, or the span queue is full); those spans are lost, Checks are not affected (reported at most once a minute)',
    );
  };
  const ignore = () => undefined;
  diag.setLogger({ error: report, warn: report, info: ignore, debug: ignore, verbose: ignore }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  return { started: () => (starting = false) };
}

/** The collector as the operational log shows it: a password in the URL as `***`. */
function endpointForLog(): string {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return endpoint === undefined ? 'http://localhost:4318 (default)' : withoutCredentials(endpoint);
}
