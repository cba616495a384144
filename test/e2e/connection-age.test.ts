/**
 * max_connection_age_ms through a real Envoy (failure_mode_allow: false): gatehouse closes Envoy's
 * connection with a GOAWAY every ~200 ms while requests flow; Envoy opens new ones and no request
 * fails. Envoy's own counter of connections it opened to gatehouse shows the cycling happened.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { startServe } from '../support/cli.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { request, startSidecar, startUpstream } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();
const WORKERS = 8;

describe.skipIf(tool.skip || opa.skip)(`connection age through Envoy ${tool.version}`, () => {
  const stops: Array<() => Promise<unknown>> = [];
  let running = false;
  afterAll(async () => {
    running = false;
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  it('cycles Envoy\'s connection to gatehouse repeatedly without failing a request', async () => {
    const dir = tempDir();
    const bundle = buildBundle(opa.opa, { 'p.rego': 'package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method == "GET"\n' }, path.join(dir, 'bundle.tar.gz'));
    const gatehouse = await startServe(bundle, ['--max-connection-age-ms', '200', '--max-connection-age-grace-ms', '10000', '--decision-log', 'off']);
    stops.push(async () => gatehouse.child.kill('SIGKILL'));
    const upstream = await startUpstream();
    stops.push(upstream.close);
    const sidecar = await startSidecar({ envoy: tool.envoy, dir, gatehousePort: gatehouse.grpcPort, upstreamPort: upstream.port, failureModeAllow: false });
    stops.push(sidecar.stop);
    const connectionsOpened = async () => {
      const stats = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/stats?filter=^cluster\\.gatehouse\\.upstream_cx_total$`)).text();
      return Number(/upstream_cx_total: (\d+)/.exec(stats)?.[1] ?? 0);
    };

    const statuses = new Map<number, number>();
    running = true;
    const load = Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (running) {
          const status = await request(sidecar, { path: '/orders' }).then((reply) => reply.status, () => 0);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    await eventually(async () => (await connectionsOpened()) >= 4, 30_000);
    running = false;
    await load;

    const sent = [...statuses.values()].reduce((x, y) => x + y, 0);
    expect(sent).toBeGreaterThan(0);
    expect(Object.fromEntries(statuses)).toEqual({ 200: sent });
    expect(sidecar.accessLog().filter((line) => line.response_code !== 200)).toEqual([]);
  }, 60_000);
});
