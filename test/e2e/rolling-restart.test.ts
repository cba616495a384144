/**
 * A rolling restart through a real Envoy (failure_mode_allow: false, so any failed Check would be a
 * 403 to a legitimate client): two `gatehouse serve` processes behind one cluster with active
 * grpc.health.v1 checks, requests flowing the whole time, one process stopped with SIGTERM and
 * started again. Its drain turns health NOT_SERVING while it keeps answering; once Envoy has taken
 * it out (seen on Envoy's admin API), a second SIGTERM ends the drain and it exits. No request may
 * fail: every GET is allowed by the policy and reaches the upstream.
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { startServe, type ServeProcess } from '../support/cli.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { allowed, GET_ONLY_POLICY, hostHealth, startSidecar, startUpstream, steadyLoad } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();
const WORKERS = 8;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(tool.skip || opa.skip)(`a rolling restart of gatehouse behind Envoy ${tool.version}`, () => {
  const stops: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  it('fails no request while one of two instances is stopped and started again', async () => {
    const dir = tempDir();
    const bundle = buildBundle(opa.opa, { 'p.rego': GET_ONLY_POLICY }, path.join(dir, 'bundle.tar.gz'));
    const [portA, portB] = [await freePort(), await freePort()];
    // A long drain, ended by a second SIGTERM once Envoy shows the host out: no timing to guess.
    const serveArgs = (port: number) => ['--addr', `127.0.0.1:${port}`, '--shutdown-drain-ms', '600000', '--decision-log', 'off'];
    const kill = (p: ServeProcess) => async () => {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    };
    let a = await startServe(bundle, serveArgs(portA));
    stops.push(kill(a));
    const b = await startServe(bundle, serveArgs(portB));
    stops.push(kill(b));
    const upstream = await startUpstream();
    stops.push(upstream.close);
    const sidecar = await startSidecar({
      envoy: tool.envoy, dir, gatehousePort: portA, moreGatehousePorts: [portB], upstreamPort: upstream.port, failureModeAllow: false, gatehouseHealthCheckMs: 100,
    });
    stops.push(sidecar.stop);
    await eventually(async () => {
      const health = await hostHealth(sidecar);
      return health.size === 2 && [...health.values()].every(Boolean);
    }, 20_000);

    const load = steadyLoad(sidecar, WORKERS);
    stops.push(load.stop);
    const sent = load.sent;
    await eventually(() => sent() >= 200);

    a.child.kill('SIGTERM');
    await eventually(async () => (await hostHealth(sidecar)).get(portA) === false, 20_000);
    const beforeEnd = sent();
    await eventually(() => sent() >= beforeEnd + 200); // traffic keeps flowing to B alone
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);

    a = await startServe(bundle, serveArgs(portA));
    stops.push(kill(a));
    await eventually(async () => (await hostHealth(sidecar)).get(portA) === true, 20_000);
    // The restarted instance takes its share again (Envoy round-robins over healthy hosts).
    await eventually(async () => (await allowed(a)) >= 100, 20_000);
    await load.stop();

    expect(Object.fromEntries(load.statuses)).toEqual({ 200: sent() });
    const failed = sidecar.accessLog().filter((line) => line.response_code !== 200);
    expect(failed).toEqual([]);
  }, 120_000);
});
