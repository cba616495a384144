/**
 * The live authorization map (admin_ui, issue 17) in a real browser: `gatehouse serve` (the built
 * CLI, dist/main.js) with the example policy of policies/ receives real Checks over gRPC from
 * several callers, some allowed and some denied; headless Chromium (Debian's package, driven by
 * puppeteer-core) loads /live from the admin listener and must show, from the graph library's own
 * elements and the tables beside it, exactly the caller → destination edges and denials that were
 * sent, the example decision ids of real denials, the serving revision, and update live when more
 * Checks arrive. The page must log no console error, fetch nothing but from the admin listener's
 * origin, and never show a secret header's value. Once with one process and once with workers: 2
 * (the primary merges both workers' summaries). Screenshots go to test-output/ (git-ignored).
 * Bounded: about 60 Checks per run.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { chromiumOrSkip, launchChromium } from '../support/chromium.js';
import { type ServeProcess, serveProcesses, startServe } from '../support/cli.js';
import { TestClient } from '../support/grpc-client.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, INVENTORY, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { ROOT, opaOrSkip } from '../support/tools.js';
import { MAX_CLIENTS } from '../../src/observability/live/live-routes.js';

const opa = opaOrSkip();
const browserTool = chromiumOrSkip();
const OUTPUT = path.join(ROOT, 'test-output');
const FRONTEND = 'spiffe://mesh.local/ns/shop/sa/frontend';
const PROBER = 'spiffe://mesh.local/ns/ops/sa/prober';
const SECRET = 'Bearer s3cret-token-never-shown';

/** What each caller sends, and what the example policy (policies/data.json) decides. */
const TRAFFIC = [
  { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/sku-1', allowed: true, times: 6 },
  { source: CHECKOUT, destination: PAYMENTS, method: 'POST', path: '/api/v1/charges', allowed: true, times: 4 },
  { source: PROBER, destination: INVENTORY, method: 'GET', path: '/healthz', allowed: true, times: 3 },
  { source: FRONTEND, destination: PAYMENTS, method: 'POST', path: '/api/v1/charges', allowed: false, times: 5 },
  { source: PROBER, destination: PAYMENTS, method: 'DELETE', path: '/api/v1/charges', allowed: false, times: 2 },
];

interface GraphEdge {
  caller: string;
  destination: string;
  outcome: 'allow' | 'deny';
  count: number;
}

const servers = serveProcesses();
let bundle = '';
const dir = tempDir('gatehouse-live-');

beforeAll(() => {
  if (!opa.skip) bundle = buildExampleBundle(opa.opa, dir);
  mkdirSync(OUTPUT, { recursive: true });
});

/** Sends TRAFFIC `rounds` times, one connection per caller; returns the denied Checks' decision ids. */
async function sendTraffic(server: ServeProcess, rounds = 1): Promise<Set<string>> {
  const denied = new Set<string>();
  const clients = new Map(TRAFFIC.map((t) => [t.source, new TestClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 })]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const t of TRAFFIC) {
        for (let i = 0; i < t.times; i++) {
          // A secret header on every Check: the page must never show it.
          const reply = await clients.get(t.source)!.check(checkRequestJson({ source: t.source, destination: t.destination, method: t.method, path: t.path, headers: { authorization: SECRET } }));
          expect(reply.allowed, `${t.source} ${t.method} ${t.path}`).toBe(t.allowed);
          if (!reply.allowed) denied.add(reply.metadata.decision_id as string);
        }
      }
    }
  } finally {
    for (const client of clients.values()) client.close();
  }
  return denied;
}

/** The edges the graph library holds, keyed "outcome caller destination" → count. */
async function graphEdges(page: Page): Promise<Record<string, number>> {
  const edges = await page.evaluate(() => {
    const cy = (window as unknown as { gatehouseLive?: { graph(): { edges(): { map<T>(f: (e: { data(): unknown }) => T): T[] } } | undefined } }).gatehouseLive?.graph();
    return cy ? cy.edges().map((e) => e.data()) : [];
  });
  return Object.fromEntries((edges as GraphEdge[]).map((e) => [`${e.outcome} ${e.caller} ${e.destination}`, e.count]));
}

function expectedEdges(rounds: number): Record<string, number> {
  const expected: Record<string, number> = {};
  for (const t of TRAFFIC) {
    const key = `${t.allowed ? 'allow' : 'deny'} ${t.source} ${t.destination}`;
    expected[key] = (expected[key] ?? 0) + t.times * rounds;
  }
  return expected;
}

async function waitForEdges(page: Page, expected: Record<string, number>): Promise<void> {
  let seen: Record<string, number> = {};
  try {
    await eventually(async () => {
      seen = await graphEdges(page);
      return JSON.stringify(Object.entries(seen).sort()) === JSON.stringify(Object.entries(expected).sort());
    }, 20_000);
  } catch {
    expect(seen, 'the graph\'s edges').toEqual(expected);
  }
}

/** `gatehouse serve --admin-ui true` with `workers`, stopped after the test; its admin origin. */
async function startLiveServer(workers: number): Promise<{ server: ServeProcess; origin: string }> {
  const server = await startServe(bundle, ['--workers', String(workers), '--admin-ui', 'true']);
  servers.push(server);
  return { server, origin: `http://127.0.0.1:${server.adminPort}` };
}

describe.skipIf(opa.skip || browserTool.skip)('the live authorization map in headless Chromium', () => {
  let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
  afterAll(async () => {
    await chromium?.close();
  });
  /** A new tab of the one Chromium the tests share, launched on first use. */
  const newPage = async () => {
    chromium ??= await launchChromium(browserTool.chromium);
    return chromium.browser.newPage();
  };

  for (const workers of [1, 2]) {
    it(`shows the callers, destinations and denials of real Checks (workers: ${workers})`, { timeout: 90_000 }, async () => {
      const { server, origin } = await startLiveServer(workers);
      await eventually(async () => ((await (await fetch(`${origin}/readyz`)).json()) as { ready: boolean }).ready, 15_000);
      const revision = ((await (await fetch(`${origin}/readyz`)).json()) as { policy: { revision: string } }).policy.revision;
      const denied = await sendTraffic(server);

      const page = await newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${(error as Error).message}`));
      page.on('requestfailed', (request) => {
        // The event stream is cut when the page closes; anything else failing is a problem.
        if (!request.url().endsWith('/live/events')) problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
      });
      page.on('request', (request) => requests.push(request.url()));
      await page.setViewport({ width: 1280, height: 900 });
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
      await page.goto(`${origin}/live`, { waitUntil: 'load' });

      // The graph holds exactly the edges sent, with their counts.
      await waitForEdges(page, expectedEdges(1));
      const nodes = await page.evaluate(() => (window as unknown as { gatehouseLive: { graph(): { nodes(): { map<T>(f: (n: { data(k: string): unknown }) => T): T[] } } } }).gatehouseLive.graph().nodes().map((n) => n.data('principal') as string));
      expect(nodes.sort()).toEqual([CHECKOUT, FRONTEND, INVENTORY, PAYMENTS, PROBER].sort());

      // The denials table: one row per denied caller → destination, with the policy's reason and a real denied decision id.
      const rows = await page.$$eval('#denials tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(rows.map((r) => [r[0], r[1], r[2]]).sort()).toEqual([['5', FRONTEND, PAYMENTS], ['2', PROBER, PAYMENTS]].sort());
      for (const row of rows) {
        expect(row[3]).toMatch(/^policy_denied/);
        expect(denied.has(row[4]!), `example decision id ${row[4]} is a denied Check's`).toBe(true);
      }
      // Every edge in the accessible table too.
      const edgeRows = await page.$$eval('#edges tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(edgeRows.map((r) => `${r[0]} ${r[1]}`).sort()).toEqual([...new Set(TRAFFIC.map((t) => `${t.source} ${t.destination}`))].sort());
      expect(await page.$eval('#revision', (e) => e.textContent)).toBe(revision);
      expect(await page.$eval('#reload', (e) => e.textContent)).toMatch(/^ok/);
      const snapshot = (await page.evaluate(() => (window as unknown as { gatehouseLive: { snapshot(): unknown } }).gatehouseLive.snapshot())) as {
        latency: { counts: number[] };
        cache: { hit: number; miss: number; off: number };
        workers?: { reporting: number; running: number; configured: number };
      };
      expect(snapshot.latency.counts.reduce((a, b) => a + b, 0)).toBe(20);
      expect(snapshot.cache.hit + snapshot.cache.miss + snapshot.cache.off).toBe(20);
      expect(await page.$$eval('#latency canvas', (c) => c.length)).toBe(1);
      if (workers > 1) {
        expect(snapshot.workers).toEqual({ reporting: workers, running: workers, configured: workers });
        expect(await page.$eval('#window', (e) => e.textContent)).toContain(`${workers}/${workers} workers`);
      }

      // Live: more Checks show up without reloading the page.
      const more = await sendTraffic(server);
      await waitForEdges(page, expectedEdges(2));
      const rowsAfter = await page.$$eval('#denials tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
      expect(rowsAfter.sort()).toEqual(['10', '4']);
      expect(more.size).toBe(7);

      if (workers > 1) {
        // Both workers served Checks (their decision-log lines say which), so the page's totals are a merge.
        const served = new Set(server.stdout().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { labels: { worker?: string } }).labels.worker));
        expect([...served].sort()).toEqual(['1', '2']);
      }

      // No secret, nothing but what the admin listener served.
      const html = await page.content();
      expect(html).not.toContain('s3cret');
      expect(JSON.stringify(snapshot)).not.toContain('s3cret');
      const outside = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'));
      expect(outside).toEqual([]);
      expect(requests).toEqual(expect.arrayContaining([`${origin}/live`, `${origin}/live/assets/cytoscape.min.js`, `${origin}/live/assets/uPlot.iife.min.js`, `${origin}/live/events`]));

      await page.screenshot({ path: path.join(OUTPUT, `live-map-workers-${workers}-light.png`), fullPage: true });
      // The theme toggle: system → light → dark, and the page's colours follow.
      const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const light = await background();
      await page.click('#theme-toggle');
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
      await page.click('#theme-toggle');
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
      expect(await background()).not.toBe(light);
      await page.screenshot({ path: path.join(OUTPUT, `live-map-workers-${workers}-dark.png`), fullPage: true });

      expect(problems).toEqual([]);
      await page.close();
    });
  }

  it('keeps the graph readable with many callers: the 16 busiest pairs drawn, the rest from "N more callers"; the table lists every pair', { timeout: 90_000 }, async () => {
    const { server, origin } = await startLiveServer(1);
    await sendTraffic(server);
    // 40 more callers, one Check each (the policy denies them), fewer than any pair of TRAFFIC.
    const strangers = Array.from({ length: 40 }, (_, i) => `spiffe://mesh.local/ns/batch/sa/job-${i}`);
    const client = new TestClient(`127.0.0.1:${server.grpcPort}`);
    try {
      for (const source of strangers) expect((await client.check(checkRequestJson({ source, destination: INVENTORY }))).allowed).toBe(false);
    } finally {
      client.close();
    }
    const page = await newPage();
    try {
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(`${origin}/live`, { waitUntil: 'load' });
      await eventually(async () => (await page.$$eval('#edges tbody tr', (trs) => trs.length)) === 5 + 40, 20_000);
      const edges = await graphEdges(page);
      // Every pair of TRAFFIC (the busiest) is drawn as it is.
      for (const [key, count] of Object.entries(expectedEdges(1))) expect(edges[key], key).toBe(count);
      // 16 pairs drawn, the other 29 strangers drawn from one node; no Check is lost.
      const drawnPairs = new Set(Object.keys(edges).map((key) => key.split(' ').slice(1).join(' ')));
      expect(drawnPairs.size).toBe(16 + 1);
      expect(edges[`deny (more callers) ${INVENTORY}`]).toBe(29);
      expect(Object.values(edges).reduce((a, b) => a + b, 0)).toBe(20 + 40);
      const labels = await page.evaluate(() => (window as unknown as { gatehouseLive: { graph(): { nodes(): { map<T>(f: (n: { data(k: string): unknown }) => T): T[] } } } }).gatehouseLive.graph().nodes().map((n) => n.data('label') as string));
      expect(labels).toContain('29 more callers');
      expect(labels).toHaveLength(5 + 11 + 1);
      expect(await page.$eval('#graph-note', (e) => e.textContent)).toContain('the 16 busiest of 45 caller → destination pairs');
      await page.screenshot({ path: path.join(OUTPUT, 'live-map-many-callers.png') });
    } finally {
      await page.close();
    }
  });

  it('shows a rejected bundle as the last reload\'s failure, with its error, while the revision keeps serving; an empty graph says so', { timeout: 90_000 }, async () => {
    const own = path.join(dir, 'reloaded.tar.gz');
    copyFileSync(bundle, own);
    const server = await startServe(own, ['--workers', '1', '--admin-ui', 'true']);
    servers.push(server);
    const origin = `http://127.0.0.1:${server.adminPort}`;
    const page = await newPage();
    try {
      await page.goto(`${origin}/live`, { waitUntil: 'load' });
      await eventually(async () => (await page.$eval('#reload', (e) => e.textContent ?? '')).startsWith('ok'), 15_000);
      const revision = await page.$eval('#revision', (e) => e.textContent);
      expect(await page.$eval('#graph-empty', (e) => (e as HTMLElement).hidden)).toBe(false);
      writeFileSync(own, 'not a bundle');
      await eventually(async () => (await page.$eval('#reload', (e) => e.textContent ?? '')).startsWith('failed'), 15_000);
      const reload = await page.$eval('#reload', (e) => ({ text: e.textContent ?? '', title: e.getAttribute('title') ?? '', visible: (e as HTMLElement).offsetWidth > 0 }));
      expect(reload.text).toMatch(/^failed: bundle_\w+ · \S/); // the error itself, not only its code
      expect(reload.title).toContain('keeps serving');
      expect(reload.visible).toBe(true);
      expect(await page.$eval('#revision', (e) => e.textContent)).toBe(revision);
      await sendTraffic(server);
      await eventually(async () => page.$eval('#graph-empty', (e) => (e as HTMLElement).hidden), 15_000);
      await page.screenshot({ path: path.join(OUTPUT, 'live-map-reload-failed.png') });
    } finally {
      await page.close();
    }
  });

  it('says when it is not live: refused (every slot taken) it retries by itself; the server gone, the panels grey out', { timeout: 90_000 }, async () => {
    const { server, origin } = await startLiveServer(1);
    await sendTraffic(server);
    // Every event-stream slot taken by other readers: the page's stream is refused with 503.
    const held = Array.from({ length: MAX_CLIENTS }, () => new AbortController());
    // The responses are kept referenced: undici cancels the body of a fetch Response that is
    // garbage-collected unread, which would free a slot whenever this process happens to collect.
    const heldResponses = await Promise.all(held.map((c) => fetch(`${origin}/live/events`, { signal: c.signal })));
    expect(heldResponses.map((r) => r.status)).toEqual(held.map(() => 200));
    const page = await newPage();
    const state = () => page.evaluate(() => ({ connection: document.getElementById('connection')!.textContent ?? '', stale: document.body.classList.contains('stale'), updates: Number(document.body.dataset.updates ?? 0) }));
    try {
      await page.goto(`${origin}/live`, { waitUntil: 'load' });
      await eventually(async () => (await state()).connection.startsWith('not connected'), 15_000);
      expect(await state()).toMatchObject({ stale: true, updates: 0 });
      // A slot frees: the page connects without a reload.
      for (const c of held) c.abort();
      heldResponses.length = 0;
      await eventually(async () => (await state()).updates > 0, 20_000);
      expect(await state()).toMatchObject({ connection: 'live', stale: false });
      // The server stops: the page says since when its data is, and greys the panels out.
      server.child.kill('SIGKILL');
      await server.exited;
      await eventually(async () => (await state()).stale, 15_000);
      expect((await state()).connection).toMatch(/^reconnecting… · data as of /);
      await page.screenshot({ path: path.join(OUTPUT, 'live-map-disconnected.png') });
    } finally {
      for (const c of held) c.abort();
      heldResponses.length = 0;
      await page.close();
    }
  });
});
