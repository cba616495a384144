/**
 * The request-hygiene examples (test/cases/hygiene/cases.json, `example: true`) sent as raw
 * HTTP/1.1 bytes through a real Envoy to a strict gatehouse (the default). Each one must be denied
 * and never reach the upstream: by gatehouse with the case's rule (or the policy's reason, for the
 * JSON family), or, where Envoy cannot carry the request, by Envoy itself before ext_authz runs
 * (listed in ENVOY_REFUSES, pinned so a change in Envoy shows up here).
 */
import net from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { HYGIENE_CASES, HYGIENE_DIR, hygieneRequestJson, type RefusedCase } from '../support/hygiene-cases.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { rawValues, startSidecar, startUpstream, type Sidecar } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();
const examples = HYGIENE_CASES.refused.filter((c) => c.example);

/** Examples Envoy's HTTP/1 codec refuses on its own (status), so gatehouse never sees them. */
const ENVOY_REFUSES: Record<string, number> = {
  'invalid UTF-8: raw 0xF1 in the path': 400,
  'oversized: 64 KiB path': 431,
  'oversized: 200 headers of 8 KiB': 431,
  'method: empty method': 400,
};

/** The case as the bytes of one HTTP/1.1 request (placeholders replaced by their raw bytes). */
function rawRequest(c: RefusedCase, requestId: string): Buffer {
  const http = hygieneRequestJson(c.request).attributes.request.http as { method?: string; path: string; host?: string; headers?: Record<string, string>; body?: string };
  const lines = [`${http.method ?? ''} ${http.path} HTTP/1.1`, `host: ${http.host ?? 'inventory.shop.svc'}`];
  for (const [name, value] of Object.entries(http.headers ?? {})) if (!name.startsWith(':') && name !== 'x-request-id') lines.push(`${name}: ${value}`);
  const body = Buffer.from(http.body ?? '', 'utf8');
  lines.push(`x-request-id: ${requestId}`, `content-length: ${body.length}`, 'connection: close', '', '');
  let bytes = Buffer.concat([Buffer.from(lines.join('\r\n'), 'utf8'), body]);
  for (const [placeholder, hex] of Object.entries(c.bytes ?? {})) {
    const from = Buffer.from(placeholder, 'utf8');
    for (let at = bytes.indexOf(from); at !== -1; at = bytes.indexOf(from, at + 1)) Buffer.from(hex, 'hex').copy(bytes, at);
  }
  return bytes;
}

function send(sidecar: Sidecar, bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    // write, not end: Envoy treats a half-closed HTTP/1 connection as a client gone away.
    const socket = net.connect(sidecar.port, '127.0.0.1', () => socket.write(bytes));
    let response = '';
    socket.setTimeout(30_000, () => socket.destroy(new Error('timed out')));
    socket.on('data', (chunk) => (response += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)));
  });
}

describe.skipIf(tool.skip || opa.skip)(`the hygiene examples through Envoy ${tool.version}`, () => {
  let gatehouse: TestApp;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let sidecar: Sidecar;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-hygiene-e2e-');
    const bundle = buildBundle(opa.opa, { 'policy.rego': readFileSync(path.join(HYGIENE_DIR, 'policy.rego'), 'utf8') }, path.join(dir, 'bundle.tar.gz'));
    gatehouse = await startTestApp({ bundle }, { client: false });
    upstream = await startUpstream();
    // encode_raw_headers: without it Envoy replaces bytes that are not UTF-8 in header values
    // with "!" before gatehouse sees them (the upstream still gets the raw bytes).
    sidecar = await startSidecar({
      envoy: tool.envoy, dir, gatehousePort: gatehouse.app.grpcPort, upstreamPort: upstream.port,
      failureModeAllow: false, maxRequestBytes: 2 * 1024 * 1024, encodeRawHeaders: true,
    });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await upstream?.close();
    await gatehouse?.stop();
  });

  it('lets a clean request through (the set-up works)', async () => {
    const requestId = crypto.randomUUID();
    const status = await send(sidecar, rawRequest({ request: { path: '/public/report.pdf?year=2026' } } as RefusedCase, requestId));
    expect(status).toBe(200);
    expect(upstream.seen.some((r) => rawValues(r.rawHeaders, 'x-request-id')[0] === requestId)).toBe(true);
  });

  it.each(examples.map((c) => [`${c.class}: ${c.name}`, c] as const))('%s', async (name, c) => {
    const requestId = crypto.randomUUID();
    const status = await send(sidecar, rawRequest(c, requestId));
    expect(status).not.toBe(200);
    expect(upstream.seen.some((r) => rawValues(r.rawHeaders, 'x-request-id')[0] === requestId)).toBe(false);
    if (ENVOY_REFUSES[name] !== undefined) {
      expect(status).toBe(ENVOY_REFUSES[name]);
      return;
    }
    const line = await expect.poll(() => sidecar.accessLog().find((l) => l.request_id === requestId), { timeout: 5000 }).toBeDefined().then(() => sidecar.accessLog().find((l) => l.request_id === requestId)!);
    expect(line.response_code_details).toBe('ext_authz_denied');
    await expect.poll(() => gatehouse.decisions.some((d) => d.decision_id === line.decision_id), { timeout: 5000 }).toBe(true);
    const decision = gatehouse.decisions.find((d) => d.decision_id === line.decision_id)!;
    if (c.rule) {
      expect(status).toBe(c.status);
      expect(decision.gatehouse.hygiene.rule).toBe(c.rule);
      expect(decision.gatehouse.reason).toContain(`request hygiene rule ${c.rule}: `);
    } else expect(decision.gatehouse.reason).toContain(c.reason);
  });
});
