/**
 * OpenTelemetry tracing of Checks (`tracing: otlp`), behind a small interface so that the SDK is
 * loaded only when tracing is on: with `tracing: off` (the default) nothing of OpenTelemetry is
 * imported, and a Check pays one `undefined` test.
 *
 * A Check's spans are built after its response was handed to grpc-js, from timestamps taken
 * around the pipeline (authorize's `timings`), never by wrapping the pipeline: tracing adds up to four
 * clock reads to a Check's critical path (arrival and response here, the cache lookup's end and
 * evaluation's start in authorize), and the span work runs with its other telemetry.
 * See otel-tracer.ts for the spans and their attributes, docs/observability.md#tracing.
 */
import type { Metadata } from '@grpc/grpc-js';
import type { Outcome } from '../authz/outcome.js';
import type { Config } from '../config/schema.js';
import type { Logger } from './logger.js';

/** What the Check adapter knows of one Check besides its Outcome. */
export interface TracedCall {
  /** When the Check arrived / when its response was handed to grpc-js: ms since the Unix epoch (fractional). */
  startMs: number;
  endMs: number;
  /** The gRPC request metadata (Envoy puts its own span's traceparent or B3 headers there). */
  metadata?: Metadata;
}

export interface CheckTracer {
  /** The clock of startMs/endMs: ms since the Unix epoch, sub-millisecond resolution. */
  now(): number;
  /** Records the spans of one answered Check (called after the response was sent). Never throws. */
  record(outcome: Outcome, call: TracedCall, dryRun: boolean): void;
  /** Exports what is queued, waiting at most `timeoutMs`, then stops. Never rejects. */
  shutdown(timeoutMs: number): Promise<void>;
}

/**
 * The tracer `config.tracing` asks for: undefined when off (the SDK is not loaded), else the
 * OpenTelemetry SDK exporting over OTLP/HTTP protobuf, configured by the standard OTEL_*
 * environment variables. In cluster mode each worker calls this and exports its own spans.
 * OTEL_SDK_DISABLED=true turns it off too (logged, as the specification asks of every SDK).
 */
export async function loadTracing(config: Pick<Config, 'tracing' | 'instance'>, logger: Logger, worker?: number): Promise<CheckTracer | undefined> {
  if (config.tracing === 'off') return undefined;
  // The OpenTelemetry specification's switch for the whole SDK (boolean: "true", any case).
  if (process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    logger.warn({ tracing: config.tracing }, 'tracing: OTEL_SDK_DISABLED=true, so no spans are recorded or exported; unset it to trace');
    return undefined;
  }
  const { createOtelTracer } = await import('./otel-tracer.js');
  return createOtelTracer({ logger, instance: config.instance, worker });
}
