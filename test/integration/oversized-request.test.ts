/**
 * A CheckRequest over gatehouse's receive limit gets a deny CheckResponse (413, body_too_large),
 * not grpc-js' RESOURCE_EXHAUSTED, and is logged and counted like any other Check; the same
 * connection keeps serving. Also the framing decoder on its own, fed byte by byte.
 */
import { credentials } from '@grpc/grpc-js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscardingDecoder, oversizedRequest } from '../../src/grpc/oversized-requests.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { TestClient } from '../support/grpc-client.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { encodeRequest } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const opa = opaOrSkip();
const LIMIT = 64 * 1024 * 1024; // the limit for max_body_bytes up to 16 MiB

function framed(payload: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

describe('DiscardingDecoder', () => {
  it('frames messages like grpc-js and replaces one over the limit with a marker, keeping nothing of it', () => {
    const decoder = new DiscardingDecoder(8);
    const stream = Buffer.concat([framed(Buffer.from('short')), framed(Buffer.alloc(1000, 7)), framed(Buffer.from('')), framed(Buffer.from('after'))]);
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...decoder.write(stream.subarray(i, i + 1)));

    expect(out).toHaveLength(4);
    expect(out[0]!.subarray(5).toString()).toBe('short');
    expect(oversizedRequest(out[0]!.subarray(5))).toBeUndefined();
    expect(oversizedRequest(out[1]!.subarray(5))).toEqual({ bytes: 1000, limit: 8 });
    expect(out[2]!.length).toBe(5);
    expect(oversizedRequest(out[2]!.subarray(5))).toBeUndefined(); // a real empty message is not the marker
    expect(out[3]!.subarray(5).toString()).toBe('after');
  });
});

describe.skipIf(opa.skip)('a CheckRequest over the receive limit', () => {
  let gatehouse: TestApp;
  let bundle: string;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-oversized-');
    bundle = buildBundle(opa.opa, { 'policy.rego': 'package envoy.authz\n\nallow := true\n' }, path.join(dir, 'bundle.tar.gz'), { restrictBuiltins: false });
    gatehouse = await startTestApp({ bundle, 'max-body-bytes': '1024' });
  });

  afterAll(async () => {
    await gatehouse?.stop();
  });

  const huge = () =>
    encodeRequest({ attributes: { request: { http: { method: 'POST', path: '/upload', headers: { 'x-request-id': 'huge' }, body: 'x'.repeat(LIMIT + 1024) } } } });

  it('is denied with 413 body_too_large (an allow-all policy never runs), then the connection keeps serving', async () => {
    const reply = await gatehouse.client.check(huge());

    expect(reply.allowed).toBe(false);
    expect(reply.httpStatus).toBe(413);
    expect(reply.metadata.reason_code).toBe('body_too_large');

    const small = await gatehouse.client.check({ attributes: { request: { http: { method: 'GET', path: '/' } } } });
    expect(small.allowed).toBe(true);
  });

  it('is logged and counted', async () => {
    const before = gatehouse.decisions.length;
    const reply = await gatehouse.client.check(huge());

    await expect.poll(() => gatehouse.decisions.length).toBeGreaterThan(before);
    const line = gatehouse.decisions.find((d) => d.decision_id === reply.metadata.decision_id);
    expect(line?.error?.code).toBe('body_too_large');
    expect(line?.gatehouse?.reason).toMatch(/^the CheckRequest is \d+ bytes, more than the 67108864 bytes gatehouse reads/);
    const metrics = await gatehouse.admin('/metrics');
    expect(metrics.text).toMatch(/gatehouse_check_errors_total\{code="body_too_large"\} [1-9]/);
  });

  it('compressed, inflating past the limit, is denied the same way', async () => {
    const gzip = new TestClient(`127.0.0.1:${gatehouse.app.grpcPort}`, credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      const reply = await gzip.check(huge());
      expect(reply.httpStatus).toBe(413);
      expect(reply.metadata.reason_code).toBe('body_too_large');
      const line = await expect.poll(() => gatehouse.decisions.find((d) => d.decision_id === reply.metadata.decision_id)).toBeDefined();
      void line;
      expect(gatehouse.decisions.find((d) => d.decision_id === reply.metadata.decision_id)?.gatehouse?.reason).toMatch(/inflates to more than/);
    } finally {
      gzip.close();
    }
  });
});
