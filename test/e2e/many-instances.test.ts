/**
 * Three `gatehouse serve` processes as the three endpoints of one Envoy cluster, fed by one bundle
 * server, behaving as one service (issue 15). Envoy (failure_mode_allow: false, so a failed Check
 * would be a 403 to a legitimate client) checks them with grpc.health.v1 every 100 ms, ejects a
 * host on consecutive connect failures or resets (outlier detection), and retries a failed Check
 * on another host (the ext_authz grpc_service retry_policy: reset, connect-failure,
 * refused-stream, unavailable; previous_hosts). Under steady load:
 * - one instance is killed with SIGKILL (no drain: connections reset, Checks in flight lost) and
 *   started again on its port: no request fails;
 * - a new bundle revision is published: all three report it in gatehouse_policy_info within the
 *   poll interval (plus the time to fetch, gate and activate it), and Checks go on succeeding;
 * - every decision-log line names its instance (labels.instance) and the revision that decided
 *   it, and each instance logged Checks of both revisions.
 * Builds on rolling-restart.test.ts (two instances, a graceful stop with drain).
 */
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { startServe, type ServeProcess } from '../support/cli.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { allowed, GET_ONLY_POLICY, hostHealth, startSidecar, startUpstream, steadyLoad } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();
const INSTANCES = 3;
const LOAD_WORKERS = 6;
const POLL_MIN_MS = 500;
const POLL_MAX_MS = 1500;

/** One bundle at a time, served with its revision as ETag (304 when the poller already has it). */
class BundleServer {
  #bundle: Buffer;
  #etag: string;
  readonly #server: Server;
  constructor(bundle: Buffer, revision: string) {
    this.#bundle = bundle;
    this.#etag = `"${revision}"`;
    this.#server = createServer((req, res) => {
      if (req.headers['if-none-match'] === this.#etag) res.writeHead(304).end();
      else res.writeHead(200, { etag: this.#etag, 'content-type': 'application/gzip' }).end(this.#bundle);
    });
  }
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as { port: number }).port}/bundle.tar.gz`;
  }
  publish(bundle: Buffer, revision: string): void {
    this.#bundle = bundle;
    this.#etag = `"${revision}"`;
  }
  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

async function activeRevision(p: ServeProcess): Promise<string | undefined> {
  const metrics = await (await fetch(`http://127.0.0.1:${p.adminPort}/metrics`)).text();
  return /gatehouse_policy_info\{revision="([^"]+)"\} 1/.exec(metrics)?.[1];
}

describe.skipIf(tool.skip || opa.skip)(`three gatehouse instances behind one Envoy ${tool.version} cluster`, () => {
  const stops: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  it('lose no request when one is killed, all switch to a new bundle, and all log instance and revision', async () => {
    const dir = tempDir();
    const bundles = ['r1', 'r2'].map((revision) =>
      readFileSync(buildBundle(opa.opa, { 'p.rego': `${GET_ONLY_POLICY}\n# ${revision}\n` }, path.join(dir, `${revision}.tar.gz`), { revision })),
    );
    const server = new BundleServer(bundles[0]!, 'r1');
    const url = await server.listen();
    stops.push(() => server.close());

    const serveArgs = (i: number) => ['--workers', '1', '--instance', `gatehouse-${i}`, '--bundle-poll-min-ms', String(POLL_MIN_MS), '--bundle-poll-max-ms', String(POLL_MAX_MS)];
    const kill = (p: ServeProcess) => async () => {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    };
    const instances: ServeProcess[] = [];
    for (let i = 0; i < INSTANCES; i++) {
      instances.push(await startServe(url, serveArgs(i)));
      stops.push(kill(instances[i]!));
    }
    const ports = instances.map((p) => p.grpcPort);
    const upstream = await startUpstream();
    stops.push(upstream.close);
    const sidecar = await startSidecar({
      envoy: tool.envoy, dir, gatehousePort: ports[0]!, moreGatehousePorts: ports.slice(1), upstreamPort: upstream.port, failureModeAllow: false,
      gatehouseHealthCheckMs: 100, gatehouseRetryOn: 'reset,connect-failure,refused-stream,unavailable', gatehouseOutlierFailures: 2,
    });
    stops.push(sidecar.stop);
    const allHealthy = async () => {
      const health = await hostHealth(sidecar);
      return health.size === INSTANCES && [...health.values()].every(Boolean);
    };
    await eventually(allHealthy, 20_000);

    const load = steadyLoad(sidecar, LOAD_WORKERS);
    stops.push(load.stop);
    const sent = load.sent;
    // Every instance takes its share (Envoy round-robins over healthy hosts).
    await eventually(async () => (await Promise.all(instances.map(allowed))).every((n) => n >= 50), 30_000);

    // Killed without a drain: its connection's Checks in flight are reset, new ones cannot connect.
    const victim = 1;
    instances[victim]!.child.kill('SIGKILL');
    await instances[victim]!.exited;
    await eventually(async () => (await hostHealth(sidecar)).get(ports[victim]!) === false, 20_000);
    const afterKill = sent();
    await eventually(() => sent() >= afterKill + 300, 30_000);

    // Started again on the same port (as a replacement pod would be), it takes its share again.
    const restarted = await startServe(url, [...serveArgs(victim), '--addr', `127.0.0.1:${ports[victim]}`]);
    stops.push(kill(restarted));
    instances[victim] = restarted;
    await eventually(allHealthy, 20_000);
    await eventually(async () => (await allowed(restarted)) >= 50, 30_000);

    // A new revision on the bundle server reaches all three by their next polls.
    server.publish(bundles[1]!, 'r2');
    await eventually(async () => (await Promise.all(instances.map(activeRevision))).every((r) => r === 'r2'), POLL_MAX_MS + 15_000);
    const before = await Promise.all(instances.map(allowed));
    await eventually(async () => (await Promise.all(instances.map(allowed))).every((n, i) => n >= before[i]! + 50), 30_000);
    await load.stop();
    expect(sent()).toBeGreaterThan(0);

    expect(Object.fromEntries(load.statuses)).toEqual({ 200: sent() });
    expect(sidecar.accessLog().filter((line) => line.response_code !== 200)).toEqual([]);
    // The kill did hit Checks: those reset in flight, and those sent to the dead host before the
    // next health check, were retried on another host (without the retry policy they are 403s).
    const stats = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/stats`)).text();
    expect(Number(/cluster\.gatehouse\.upstream_rq_retry_success: (\d+)/.exec(stats)?.[1])).toBeGreaterThan(0);

    for (const [i, instance] of instances.entries()) {
      const lines = instance.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { labels: Record<string, string>; bundles: { main: { revision: string } } });
      expect(lines.length).toBeGreaterThan(0);
      expect(new Set(lines.map((l) => l.labels.instance))).toEqual(new Set([`gatehouse-${i}`]));
      expect(new Set(lines.map((l) => l.bundles.main.revision))).toEqual(new Set(['r1', 'r2']));
    }
  }, 180_000);
});
