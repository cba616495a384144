/**
 * The live map's HTTP side (admin_ui) without a browser: off by default (nothing under /live),
 * on it serves the page, its assets from this installation with a same-origin-only
 * Content-Security-Policy, a JSON snapshot and server-sent events built from real Checks; a page
 * still connected does not hold up shutdown; admin_ui without the admin listener fails start-up
 * naming the fix.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLiveRoutes, MAX_CLIENTS, MAX_MISSED_EVENTS, type LiveSnapshot } from '../../src/observability/live/live-routes.js';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, CHECKOUT_ONLY_POLICY, tempDir } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
let bundle = '';
let apps: TestApp[] = [];
beforeAll(() => {
  if (!tool.skip) bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(tempDir(), 'bundle.tar.gz'), { revision: 'live-1' });
});
afterEach(async () => {
  for (const app of apps) await app.stop();
  apps = [];
});

it('admin_ui without the admin listener fails start-up naming the fix', () => {
  expect(() => loadConfig({ flags: { bundle: 'b.tar.gz', 'admin-ui': 'true', 'admin-addr': 'off' }, env: {} })).toThrow(/admin_ui needs the admin listener.*Fix: set --admin-addr/);
});

it(`disconnects event streams that stopped reading (${MAX_MISSED_EVENTS} events missed in a row), so they cannot hold every slot`, async () => {
  // Big events every 5 ms fill a client's socket buffers fast once it stops reading.
  const big = { filler: 'x'.repeat(512 * 1024) } as unknown as LiveSnapshot;
  const routes = createLiveRoutes(async () => big, 5);
  const server: Server = createServer((req, res) => {
    if (!routes.handle(req, res, req.url ?? '/')) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live/events`;
  /** The status of a fresh event stream, which is closed again at once. */
  const streamStatus = async () => {
    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal });
    controller.abort();
    return response.status;
  };
  const stalled: Socket[] = [];
  try {
    for (let i = 0; i < MAX_CLIENTS; i++) {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.on('error', () => undefined); // reset by the server when it lets go
      socket.write('GET /live/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      socket.pause(); // never reads a byte
      stalled.push(socket);
    }
    // Every slot is taken by a client that reads nothing...
    await eventually(async () => (await streamStatus()) === 503);
    // ...until the server lets them go and a real page can connect again.
    await eventually(async () => (await streamStatus()) === 200, 20_000);
  } finally {
    for (const socket of stalled) socket.destroy();
    routes.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

it('computes one summary for requests that arrive while one is being computed', async () => {
  let computed = 0;
  let arrived = 0;
  let allArrived!: () => void;
  const gate = new Promise<void>((resolve) => (allArrived = resolve));
  const routes = createLiveRoutes(async () => {
    computed++;
    await gate; // a cluster's round trip to its workers, lasting until the whole burst is in
    return { computed } as unknown as LiveSnapshot;
  });
  const server: Server = createServer((req, res) => {
    if (++arrived === 50) allArrived();
    if (!routes.handle(req, res, req.url ?? '/')) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live/snapshot`;
    const burst = await Promise.all(Array.from({ length: 50 }, async () => (await (await fetch(url)).json()) as { computed: number }));
    expect(computed).toBe(1);
    expect(new Set(burst.map((b) => b.computed))).toEqual(new Set([1]));
    // Later requests get a fresh one.
    expect(((await (await fetch(url)).json()) as { computed: number }).computed).toBe(2);
  } finally {
    routes.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe.skipIf(tool.skip)('admin_ui', () => {
  it('is off by default: nothing under /live', async () => {
    const app = await startTestApp({ bundle });
    apps.push(app);
    expect((await app.admin('/live')).status).toBe(404);
    expect((await app.admin('/live/assets/cytoscape.min.js')).status).toBe(404);
    expect((await app.admin('/metrics')).status).toBe(200);
  });

  it('serves the page, local assets, a snapshot and events from real Checks, masked', async () => {
    // Its own bundle file: the test replaces it with a bad one at the end.
    const own = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(tempDir(), 'bundle.tar.gz'), { revision: 'live-1' });
    const app = await startTestApp({ bundle: own, 'admin-ui': 'true', 'decision-log-mask': '/gatehouse/reason' });
    apps.push(app);
    const allowed = await app.client.check(checkRequestJson({ source: CHECKOUT }));
    const denied = await app.client.check(checkRequestJson({ source: 'spiffe://mesh.local/ns/x/sa/intruder', headers: { authorization: 'Bearer top-secret' } }));
    expect([allowed.allowed, denied.allowed]).toEqual([true, false]);

    const base = `http://127.0.0.1:${app.app.adminPort}`;
    const page = await fetch(`${base}/live`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'; script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    // Every script and stylesheet the page names is served here.
    const assets = [...html.matchAll(/(?:src|href)="(\/live\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(5);
    for (const asset of assets) expect((await fetch(`${base}${asset}`)).status, asset).toBe(200);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect((await fetch(`${base}/live/assets/package.json`)).status).toBe(404);

    const snapshot = (await (await fetch(`${base}/live/snapshot`)).json()) as Record<string, any>;
    expect(snapshot.policy).toMatchObject({ revision: 'live-1', last_reload: { status: 'ok' } });
    expect(snapshot.edges).toHaveLength(2);
    expect(snapshot.denials).toEqual([expect.objectContaining({ source: 'spiffe://mesh.local/ns/x/sa/intruder', reason: '[masked]', example_decision_id: denied.metadata.decision_id })]);
    expect(JSON.stringify(snapshot)).not.toContain('top-secret');

    // Server-sent events: the first snapshot arrives at once.
    const controller = new AbortController();
    const events = await fetch(`${base}/live/events`, { signal: controller.signal });
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    const reader = events.body!.getReader();
    let text = '';
    while (!text.includes('event: snapshot\ndata: ')) text += new TextDecoder().decode((await reader.read()).value);
    // A rejected bundle shows as the last reload's result while the revision keeps serving.
    writeFileSync(own, 'not a bundle');
    await eventually(async () => ((await (await fetch(`${base}/live/snapshot`)).json()) as Record<string, any>).policy.last_reload.status === 'failed');
    const failed = (await (await fetch(`${base}/live/snapshot`)).json()) as Record<string, any>;
    expect(failed.policy).toMatchObject({ revision: 'live-1', last_reload: { status: 'failed', code: expect.stringMatching(/^bundle_/) } });

    // A page still connected must not hold up shutdown (the stream is ended first).
    const stopped = app.stop();
    apps = [];
    await stopped;
    controller.abort();
  });

  it(`serves at most ${MAX_CLIENTS} pages' event streams at once`, async () => {
    const app = await startTestApp({ bundle, 'admin-ui': 'true' });
    apps.push(app);
    const url = `http://127.0.0.1:${app.app.adminPort}/live/events`;
    const controllers = Array.from({ length: MAX_CLIENTS + 1 }, () => new AbortController());
    try {
      const open = await Promise.all(controllers.slice(0, MAX_CLIENTS).map((c) => fetch(url, { signal: c.signal })));
      expect(open.map((r) => r.status)).toEqual(new Array(MAX_CLIENTS).fill(200));
      const refused = await fetch(url, { signal: controllers[MAX_CLIENTS]!.signal });
      expect(refused.status).toBe(503);
      expect(await refused.text()).toContain(`at most ${MAX_CLIENTS} live pages`);
      // Referenced to here: undici cancels an unread Response's body when it is garbage-collected, freeing a slot.
      expect(open.every((r) => !r.bodyUsed)).toBe(true);
    } finally {
      for (const c of controllers) c.abort();
    }
  });
});
