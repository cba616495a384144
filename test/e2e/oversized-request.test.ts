/**
 * Through a real Envoy with `failure_mode_allow: true` (which turns any RPC error or timeout into
 * an allow): a 65 MiB body makes a CheckRequest over gatehouse's 64 MiB receive limit. gatehouse
 * answers when the message's length prefix arrives, so every such request is denied (413), in
 * sequence and concurrently, never reaches the upstream, and is in gatehouse's decision log and
 * metrics.
 *
 * The link from Envoy to gatehouse is throttled to 4 MiB/s (a TCP relay), so reading the whole
 * message before answering would take 16 s, past the 5 s ext_authz timeout: only an early answer
 * makes these 413s. The timeout is not Envoy's default 200 ms: Envoy 1.40 itself spends 300-700 ms
 * of its worker's time building a 65 MiB CheckRequest before sending its first byte, and counts
 * that against the timeout (docs/decision.md#large-bodies-and-the-ext_authz-timeout).
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { rawValues, request, startSidecar, startUpstream, type Reply, type Sidecar } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();
const BIG = Buffer.alloc(65 * 1024 * 1024, 0x61);
const RELAY_BYTES_PER_SECOND = 4 * 1024 * 1024;

/** A TCP relay to `port` that passes bytes towards it at `bytesPerSecond` (replies unthrottled). */
async function throttlingRelay(port: number, bytesPerSecond: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const target = net.connect(port, '127.0.0.1');
    for (const socket of [client, target]) {
      sockets.add(socket);
      socket.on('error', () => (client.destroy(), target.destroy()));
      socket.on('close', () => (sockets.delete(socket), client.destroy(), target.destroy()));
    }
    target.pipe(client);
    client.on('data', (chunk: Buffer) => {
      client.pause();
      target.write(chunk);
      setTimeout(() => client.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe.skipIf(tool.skip || opa.skip)(`an oversized CheckRequest through Envoy ${tool.version} with failure_mode_allow and a slow link to gatehouse`, () => {
  let gatehouse: TestApp;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let sidecar: Sidecar;
  let relay: Awaited<ReturnType<typeof throttlingRelay>>;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-oversized-e2e-');
    // Allow everything: only the size can deny.
    const bundle = buildBundle(opa.opa, { 'policy.rego': 'package envoy.authz\n\nallow := true\n' }, path.join(dir, 'bundle.tar.gz'), { restrictBuiltins: false });
    gatehouse = await startTestApp({ bundle }, { client: false });
    upstream = await startUpstream();
    relay = await throttlingRelay(gatehouse.app.grpcPort, RELAY_BYTES_PER_SECOND);
    sidecar = await startSidecar({
      envoy: tool.envoy, dir, gatehousePort: relay.port, upstreamPort: upstream.port,
      failureModeAllow: true, maxRequestBytes: 96 * 1024 * 1024, authzTimeout: '5s',
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await relay?.close();
    await upstream?.close();
    await gatehouse?.stop();
  });

  const upload = () => request(sidecar, { path: '/upload', method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: BIG });
  const reachedUpstream = (reply: Reply) => upstream.seen.some((r) => rawValues(r.rawHeaders, 'x-request-id')[0] === reply.requestId);

  /** Envoy's ext_authz counters: an error or a timeout allowed by failure_mode_allow shows here. */
  async function extAuthzStats(): Promise<Record<string, number>> {
    const text = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/stats?filter=ext_authz`)).text();
    return Object.fromEntries(text.split('\n').filter(Boolean).map((line) => {
      const [name, value] = line.split(': ');
      return [name!.replace(/^http\.ingress\.ext_authz\./, ''), Number(value)];
    }));
  }

  it('a small body is allowed (the policy allows everything)', async () => {
    const reply = await request(sidecar, { path: '/upload', method: 'POST', body: 'small' });
    expect(reply.status).toBe(200);
  });

  it('a 65 MiB body is denied with 413, logged and counted, and never reaches the upstream', async () => {
    const reply = await upload();

    expect(reply.status).toBe(413);
    expect(reachedUpstream(reply)).toBe(false);
    await expect.poll(() => sidecar.accessLog().find((line) => line.request_id === reply.requestId), { timeout: 5000 }).toBeDefined();
    const line = sidecar.accessLog().find((l) => l.request_id === reply.requestId)!;
    expect(line).toMatchObject({ response_code: 413, response_code_details: 'ext_authz_denied', reason_code: 'body_too_large' });
    // The CheckRequest was never decoded, so the decision log joins Envoy's access log by decision_id.
    await expect.poll(() => gatehouse.decisions.some((d) => d.decision_id === line.decision_id)).toBe(true);
    const decision = gatehouse.decisions.find((d) => d.decision_id === line.decision_id)!;
    expect(decision.error.code).toBe('body_too_large');
    expect(decision.gatehouse.reason).toMatch(/^the CheckRequest is \d+ bytes, more than the 67108864 bytes gatehouse reads/);
    const metrics = await gatehouse.admin('/metrics');
    expect(metrics.text).toMatch(/gatehouse_check_errors_total\{code="body_too_large"\} 1\b/);
    expect(metrics.text).toMatch(/gatehouse_decisions_total\{outcome="deny",reason="body_too_large"\} 1\b/);
  });

  it('three in a row are each denied with 413 and none reaches the upstream', async () => {
    for (let i = 0; i < 3; i++) {
      const reply = await upload();
      expect(reply.status).toBe(413);
      expect(reachedUpstream(reply)).toBe(false);
    }
  });

  it('four at once are all denied with 413, none reaches the upstream, and Envoy saw no error or timeout', async () => {
    const replies = await Promise.all(Array.from({ length: 4 }, upload));

    expect(replies.map((r) => r.status)).toEqual([413, 413, 413, 413]);
    expect(replies.some(reachedUpstream)).toBe(false);
    const stats = await extAuthzStats();
    expect(stats.denied).toBe(8);
    expect(stats.error ?? 0).toBe(0);
    expect(stats.failure_mode_allowed ?? 0).toBe(0);
    await expect.poll(() => gatehouse.decisions.filter((d) => d.error?.code === 'body_too_large').length).toBe(8);
  });
});
