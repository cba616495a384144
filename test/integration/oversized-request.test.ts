/**
 * A Check call whose bytes are not one plain CheckRequest within the receive limit gets a deny
 * CheckResponse, never an RPC error (RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL), and is logged
 * and counted like any other Check; the same connection keeps serving. An oversized message is
 * answered as soon as its length prefix arrives, while the client is still sending. Also the
 * framing decoder on its own, fed byte by byte.
 */
import { credentials } from '@grpc/grpc-js';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscardingDecoder, framingProblem } from '../../src/grpc/oversized-requests.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { TestClient } from '../support/grpc-client.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { framed, prefix, rawCheck } from '../support/raw-grpc.js';
import { encodeRequest } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const opa = opaOrSkip();
const LIMIT = 64 * 1024 * 1024; // the limit for max_body_bytes up to 16 MiB

function feed(decoder: DiscardingDecoder, stream: Buffer): Array<{ at: number; message: Buffer }> {
  const out: Array<{ at: number; message: Buffer }> = [];
  for (let i = 0; i < stream.length; i++) for (const message of decoder.write(stream.subarray(i, i + 1))) out.push({ at: i + 1, message });
  return out;
}

describe('DiscardingDecoder', () => {
  it('frames one message like grpc-js (with its prefix), byte by byte', () => {
    const decoder = new DiscardingDecoder(8);
    const out = feed(decoder, framed(Buffer.from('short')));
    expect(out).toHaveLength(1);
    expect(out[0]!.message.subarray(5).toString()).toBe('short');
    expect(framingProblem(out[0]!.message.subarray(5))).toBeUndefined();
    expect(decoder.endProblem()).toBeUndefined();
  });

  it('a real empty message is a message, not a marker', () => {
    const decoder = new DiscardingDecoder(8);
    const out = feed(decoder, framed(Buffer.alloc(0)));
    expect(out).toHaveLength(1);
    expect(framingProblem(out[0]!.message.subarray(5))).toBeUndefined();
  });

  it('a message over the limit becomes a marker as soon as its prefix is read, and nothing after it is kept', () => {
    const decoder = new DiscardingDecoder(8);
    const out = feed(decoder, Buffer.concat([framed(Buffer.alloc(1000, 7)), framed(Buffer.from('after'))]));
    expect(out).toHaveLength(1);
    expect(out[0]!.at).toBe(5);
    expect(framingProblem(out[0]!.message.subarray(5))).toEqual({ kind: 'oversized', bytes: 1000, limit: 8 });
    expect(decoder.endProblem()).toBeUndefined();
  });

  it('a compressed message becomes a marker at its prefix, whatever its length', () => {
    const decoder = new DiscardingDecoder(8);
    const out = feed(decoder, framed(Buffer.from('abc'), 1));
    expect(out).toHaveLength(1);
    expect(out[0]!.at).toBe(5);
    expect(framingProblem(out[0]!.message.subarray(5))).toEqual({ kind: 'compressed', flag: 1 });
  });

  it('at the end: a cut-short message, no message, and bytes after the message are problems', () => {
    const cut = new DiscardingDecoder(100);
    expect(feed(cut, framed(Buffer.from('0123456789')).subarray(0, 9))).toEqual([]);
    expect(cut.endProblem()).toEqual({ kind: 'truncated', received: 9, declared: 15 });
    const inPrefix = new DiscardingDecoder(100);
    feed(inPrefix, Buffer.from([0, 0, 0]));
    expect(inPrefix.endProblem()).toEqual({ kind: 'truncated', received: 3, declared: undefined });
    expect(new DiscardingDecoder(100).endProblem()).toEqual({ kind: 'missing' });
    const two = new DiscardingDecoder(100);
    expect(feed(two, Buffer.concat([framed(Buffer.from('one')), framed(Buffer.from('two'))]))).toHaveLength(1);
    expect(two.endProblem()).toEqual({ kind: 'extra', bytes: 8 });
  });
});

describe.skipIf(opa.skip)('a Check call that is not one plain CheckRequest within the receive limit', () => {
  let gatehouse: TestApp;
  let port: number;
  const small = () => encodeRequest({ attributes: { request: { http: { method: 'GET', path: '/', headers: { 'x-request-id': 'small' } } } } });

  beforeAll(async () => {
    const dir = tempDir('gatehouse-oversized-');
    const bundle = buildBundle(opa.opa, { 'policy.rego': 'package envoy.authz\n\nallow := true\n' }, path.join(dir, 'bundle.tar.gz'), { restrictBuiltins: false });
    gatehouse = await startTestApp({ bundle, 'max-body-bytes': '1024' });
    port = gatehouse.app.grpcPort;
  });

  afterAll(async () => {
    await gatehouse?.stop();
  });

  const huge = () =>
    encodeRequest({ attributes: { request: { http: { method: 'POST', path: '/upload', headers: { 'x-request-id': 'huge' }, body: 'x'.repeat(LIMIT + 1024) } } } });

  it('over the limit: denied with 413 body_too_large (an allow-all policy never runs), then the connection keeps serving', async () => {
    const reply = await gatehouse.client.check(huge());

    expect(reply.allowed).toBe(false);
    expect(reply.httpStatus).toBe(413);
    expect(reply.metadata.reason_code).toBe('body_too_large');

    const after = await gatehouse.client.check({ attributes: { request: { http: { method: 'GET', path: '/' } } } });
    expect(after.allowed).toBe(true);
  });

  it('over the limit: answered as soon as the length prefix arrives, while the client is still sending', async () => {
    // 1 MiB of a message that declares LIMIT + 1 bytes, and the stream left open: only an early answer can arrive.
    const reply = await rawCheck(port, { chunks: [prefix(LIMIT + 1), Buffer.alloc(1024 * 1024)], end: false });

    expect(reply.beforeEnd).toBe(true);
    expect(reply.grpcStatus).toBe('0');
    expect(reply.response?.deniedResponse?.status?.code).toBe('PayloadTooLarge');
    expect(reply.metadata.reason_code).toBe('body_too_large');
  });

  it('over the limit: logged and counted, also when the client cancels right after the prefix', async () => {
    const reply = await gatehouse.client.check(huge());
    await expect.poll(() => gatehouse.decisions.some((d) => d.decision_id === reply.metadata.decision_id)).toBe(true);
    const line = gatehouse.decisions.find((d) => d.decision_id === reply.metadata.decision_id)!;
    expect(line.error?.code).toBe('body_too_large');
    expect(line.gatehouse?.reason).toMatch(/^the CheckRequest is \d+ bytes, more than the 67108864 bytes gatehouse reads/);

    const before = gatehouse.decisions.filter((d) => d.error?.code === 'body_too_large').length;
    await rawCheck(port, { chunks: [prefix(LIMIT + 7), Buffer.alloc(64 * 1024)], cancel: true });
    await expect.poll(() => gatehouse.decisions.filter((d) => d.error?.code === 'body_too_large').length).toBe(before + 1);
    const cancelled = gatehouse.decisions.filter((d) => d.error?.code === 'body_too_large').at(-1)!;
    expect(cancelled.gatehouse?.reason).toMatch(/^the CheckRequest is 67108871 bytes/);
    const metrics = await gatehouse.admin('/metrics');
    expect(metrics.text).toMatch(/gatehouse_check_errors_total\{code="body_too_large"\} [3-9]/);
  });

  const framingCases: Array<{ name: string; chunks: () => Buffer[]; headers?: Record<string, string>; reason: RegExp }> = [
    { name: 'a message cut short', chunks: () => [framed(small()).subarray(0, 10)], reason: /^the gRPC stream ended inside the CheckRequest \(10 of \d+ bytes\)/ },
    { name: 'a prefix cut short', chunks: () => [Buffer.from([0, 0, 0])], reason: /ended inside the CheckRequest \(3 of at least 5 bytes\)/ },
    { name: 'no message at all', chunks: () => [], reason: /^the gRPC call ended without a CheckRequest message/ },
    { name: 'two messages', chunks: () => [framed(small()), framed(small())], reason: /^the gRPC call carried \d+ bytes after the CheckRequest/ },
    { name: 'a compressed message without grpc-encoding', chunks: () => [framed(small(), 1)], reason: /^the CheckRequest is compressed \(gRPC compressed flag 1\)/ },
    { name: 'invalid gzip', headers: { 'grpc-encoding': 'gzip' }, chunks: () => [framed(Buffer.alloc(10, 1), 1)], reason: /is compressed/ },
    { name: 'an unknown grpc-encoding', headers: { 'grpc-encoding': 'snappy' }, chunks: () => [framed(small(), 1)], reason: /is compressed/ },
    { name: 'an invalid flag', chunks: () => [framed(small(), 2)], reason: /compressed flag 2/ },
    { name: 'valid gzip', headers: { 'grpc-encoding': 'gzip' }, chunks: () => [framed(zlib.gzipSync(small()), 1)], reason: /is compressed/ },
  ];

  for (const c of framingCases) {
    it(`${c.name}: a 400 deny (input_parse_error), logged`, async () => {
      const reply = await rawCheck(port, { chunks: c.chunks(), headers: c.headers });

      expect(reply.grpcStatus).toBe('0');
      expect(reply.response?.okResponse).toBeUndefined();
      expect(reply.response?.deniedResponse?.status?.code).toBe('BadRequest');
      expect(reply.metadata.reason_code).toBe('input_parse_error');
      await expect.poll(() => gatehouse.decisions.find((d) => d.decision_id === reply.metadata.decision_id)?.gatehouse?.reason).toMatch(c.reason);
    });
  }

  it('a grpc-js client that compresses gets a deny naming compression, not an RPC error', async () => {
    const gzip = new TestClient(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      const reply = await gzip.check(small());
      expect(reply.allowed).toBe(false);
      expect(reply.httpStatus).toBe(400);
      expect(reply.metadata.reason_code).toBe('input_parse_error');
    } finally {
      gzip.close();
    }
  });

  it('a plain request on a raw stream is still allowed (the framing checks pass a clean call through)', async () => {
    const reply = await rawCheck(port, { chunks: [framed(small())] });
    expect(reply.grpcStatus).toBe('0');
    expect(reply.response?.okResponse).toBeDefined();
  });
});
