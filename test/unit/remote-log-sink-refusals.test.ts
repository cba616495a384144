/**
 * RemoteLogSink against a real HTTP service that refuses uploads: 413 (batch too large) halves the
 * batch and drops only a single event the service will never take; 429/503 with Retry-After wait
 * at least that long. retryAfterMs reads both Retry-After forms.
 */
import http from 'node:http';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteLogSink, retryAfterMs } from '../../src/observability/remote-log-sink.js';

const gunzip = promisify(gunzipCallback);

interface Attempt {
  atMs: number;
  events: { id: string }[];
}

/** A decision-log service on loopback; `answer` decides each upload's status and headers. */
async function service(answer: (events: { id: string }[], attempt: number) => { status: number; headers?: Record<string, string> }) {
  const attempts: Attempt[] = [];
  const accepted: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const events = JSON.parse((await gunzip(Buffer.concat(chunks))).toString('utf8')) as { id: string }[];
      attempts.push({ atMs: performance.now(), events });
      const { status, headers } = answer(events, attempts.length);
      if (status < 300) accepted.push(...events.map((e) => e.id));
      res.writeHead(status, headers).end(status < 300 ? '' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, attempts, accepted };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sink(url: string, errors: Error[] = []) {
  const s = new RemoteLogSink({ url, maxBufferBytes: 1 << 20, batchMs: 5, minRetryMs: 10, maxRetryMs: 20, onUploadError: (e) => errors.push(e) });
  cleanups.push(() => s.destroy());
  return s;
}

const flushed = (s: RemoteLogSink) => new Promise<void>((resolve) => s.flush(() => resolve()));
const lines = (ids: string[]) => ids.map((id) => `${JSON.stringify({ id })}\n`).join('');

describe('RemoteLogSink and a service that refuses uploads', () => {
  it('413 for batches over 3 events: halves the batch until accepted and delivers every event once, in order', async () => {
    const svc = await service((events) => ({ status: events.length > 3 ? 413 : 204 }));
    const errors: Error[] = [];
    const s = sink(svc.url, errors);
    const ids = Array.from({ length: 20 }, (_, i) => `e${i}`);
    s.write(lines(ids));
    await flushed(s);
    expect(svc.accepted).toEqual(ids);
    expect(s.pending).toBe(0);
    expect(errors.some((e) => /HTTP 413.*at most \d+ events per upload/.test(e.message))).toBe(true);
    // After the halving, no upload is larger than what the service took.
    const afterFirstSuccess = svc.attempts.slice(svc.attempts.findIndex((a) => a.events.length <= 3));
    expect(afterFirstSuccess.every((a) => a.events.length <= 3)).toBe(true);
  });

  it('413 for one event on its own: drops that event (counted as a drop), delivers the ones behind it', async () => {
    const svc = await service((events) => ({ status: events.some((e) => e.id === 'huge') ? 413 : 204 }));
    const errors: Error[] = [];
    const s = sink(svc.url, errors);
    let drops = 0;
    s.on('drop', () => drops++);
    s.write(lines(['a', 'b', 'huge', 'c', 'd']));
    await flushed(s);
    expect(svc.accepted).toEqual(['a', 'b', 'c', 'd']);
    expect(drops).toBe(1);
    expect(errors.some((e) => /one event .* larger than the service accepts: dropped/.test(e.message))).toBe(true);
  });

  it.each([429, 503])('%i with Retry-After: 1 waits at least a second before the next attempt (its own backoff is 10-20 ms)', async (status) => {
    const svc = await service((_events, attempt) => (attempt === 1 ? { status, headers: { 'retry-after': '1' } } : { status: 204 }));
    const errors: Error[] = [];
    const s = sink(svc.url, errors);
    s.write(lines(['x']));
    await flushed(s);
    expect(svc.accepted).toEqual(['x']);
    expect(svc.attempts).toHaveLength(2);
    expect(svc.attempts[1]!.atMs - svc.attempts[0]!.atMs).toBeGreaterThanOrEqual(990);
    expect(errors[0]!.message).toContain('(Retry-After: 1)');
  });

  it('a 500 with Retry-After is retried on its own backoff (Retry-After is read on 429 and 503 only)', async () => {
    const svc = await service((_events, attempt) => (attempt === 1 ? { status: 500, headers: { 'retry-after': '120' } } : { status: 204 }));
    const s = sink(svc.url);
    s.write(lines(['y']));
    await flushed(s);
    expect(svc.accepted).toEqual(['y']);
    expect(svc.attempts[1]!.atMs - svc.attempts[0]!.atMs).toBeLessThan(60_000);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-30T06:00:00Z');
  it('reads delay-seconds and HTTP-dates, relative to now', () => {
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Mon, 30 Nov 2026 06:00:30 GMT', now)).toBe(30_000);
  });
  it('is undefined when absent or unreadable, 0 for a date in the past, and at most 5 minutes', () => {
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-5', now)).toBeUndefined();
    expect(retryAfterMs('1.5', now)).toBeUndefined();
    expect(retryAfterMs('Mon, 30 Nov 2026 05:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('86400', now)).toBe(300_000);
  });
});
