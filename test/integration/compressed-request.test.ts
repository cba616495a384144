/**
 * Compressed CheckRequests are refused unread (Envoy's gRPC client never compresses): 24 concurrent
 * gzip bombs (about 255 KB each, inflating to 256 MiB) are all denied, and gatehouse's process
 * does not grow by the 64 MiB per call that inflating up to the receive limit would hold.
 */
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { framed, rawCheck } from '../support/raw-grpc.js';
import { opaOrSkip } from '../support/tools.js';

const opa = opaOrSkip();
const MiB = 1024 * 1024;

/** gzip of 256 MiB of zeros, built a MiB at a time so the test itself never holds the inflated bytes. */
async function gzipBomb(): Promise<Buffer> {
  const gzip = zlib.createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => parts.push(chunk));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < 256; i++) if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once('drain', resolve));
  gzip.end();
  await done;
  return Buffer.concat(parts);
}

describe.skipIf(opa.skip)('compressed CheckRequests', () => {
  let gatehouse: TestApp;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-compressed-');
    const bundle = buildBundle(opa.opa, { 'policy.rego': 'package envoy.authz\n\nallow := true\n' }, path.join(dir, 'bundle.tar.gz'), { restrictBuiltins: false });
    // gatehouse runs in this process (vitest forks one per file), so its memory is this process's.
    gatehouse = await startTestApp({ bundle }, { client: false });
  });

  afterAll(async () => {
    await gatehouse?.stop();
  });

  it('24 concurrent gzip bombs are all denied, and the process stays within 256 MiB of where it started', async () => {
    const bomb = await gzipBomb();
    expect(bomb.length).toBeLessThan(MiB);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    try {
      const replies = await Promise.all(
        Array.from({ length: 24 }, () => rawCheck(gatehouse.app.grpcPort, { headers: { 'grpc-encoding': 'gzip' }, chunks: [framed(bomb, 1)] })),
      );
      for (const reply of replies) {
        expect(reply.grpcStatus).toBe('0');
        expect(reply.response?.okResponse).toBeUndefined();
        expect(reply.metadata.reason_code).toBe('input_parse_error');
      }
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    console.log(`compressed bombs: ${bomb.length} bytes each, rss ${(baseline / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB`);
    expect(peak - baseline).toBeLessThan(256 * MiB);
  });
});
