/** loadTracing: off, on, and OTEL_SDK_DISABLED (the OpenTelemetry specification's switch for the whole SDK). */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTracing } from '../../src/observability/tracing.js';

function memoryLogger() {
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), logs };
}

const saved = process.env.OTEL_SDK_DISABLED;
afterEach(() => {
  if (saved === undefined) delete process.env.OTEL_SDK_DISABLED;
  else process.env.OTEL_SDK_DISABLED = saved;
});

describe('loadTracing', () => {
  it.each(['true', 'TRUE', ' True '])('tracing: otlp with OTEL_SDK_DISABLED=%j records nothing and says why', async (value) => {
    process.env.OTEL_SDK_DISABLED = value;
    const { logger, logs } = memoryLogger();
    expect(await loadTracing({ tracing: 'otlp', instance: 'i1' }, logger)).toBeUndefined();
    await new Promise((resolve) => setImmediate(resolve));
    expect(logs.some((l) => String(l.msg).includes('OTEL_SDK_DISABLED=true'))).toBe(true);
  });

  it.each(['false', '', '1'])('tracing: otlp with OTEL_SDK_DISABLED=%j traces', async (value) => {
    process.env.OTEL_SDK_DISABLED = value;
    const { logger } = memoryLogger();
    const tracer = await loadTracing({ tracing: 'otlp', instance: 'i1' }, logger);
    expect(tracer).toBeDefined();
    await tracer!.shutdown(100);
  });
});
