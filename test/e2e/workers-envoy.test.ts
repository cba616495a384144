/**
 * How Envoy's connections reach gatehouse's workers (docs/operations.md#workers): balancing is per
 * connection, so one Envoy worker thread with one HTTP/2 connection uses one gatehouse worker; a
 * stream limit on the gatehouse cluster (more connections when busy) or max_requests_per_connection
 * (connections replaced over time) spreads Checks over every worker. Real Envoy, real
 * `gatehouse serve --workers 2`; which worker decided each Check is in the decision log
 * (labels.worker).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { startServe, type ServeProcess } from '../support/cli.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip, grpcExtAuthzFilter, ingressEnvoyConfig, runEnvoy, staticCluster } from './envoy.js';
import { startUpstream } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();

interface EnvoyProcess {
  port: number;
  stop(): Promise<void>;
}

/** Envoy with one worker thread (--concurrency 1), ext_authz to gatehouse with these HTTP protocol options. */
function startEnvoy(dir: string, name: string, gatehousePort: number, upstreamPort: number, protocolOptions: Record<string, unknown>): Promise<EnvoyProcess> {
  return runEnvoy(tool.envoy, dir, name, ingressEnvoyConfig([grpcExtAuthzFilter()], [staticCluster('upstream', upstreamPort), staticCluster('gatehouse', gatehousePort, protocolOptions)]));
}

/** `count` GET requests through Envoy, `concurrency` at a time, each tagged with `x-case`; their statuses. */
async function load(port: number, tag: string, count: number, concurrency: number): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const response = await fetch(`http://127.0.0.1:${port}/items`, { headers: { 'x-case': tag } });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    }),
  );
  return statuses;
}

describe.skipIf(tool.skip || opa.skip)(`gatehouse --workers 2 behind Envoy ${tool.version} (--concurrency 1)`, () => {
  const stops: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  it('one connection uses one worker; a stream limit or max_requests_per_connection spreads Checks over both', async () => {
    const dir = tempDir();
    const bundle = buildBundle(opa.opa, { 'p.rego': 'package envoy.authz\nimport rego.v1\nallow := true\n' }, path.join(dir, 'bundle.tar.gz'));
    const log = path.join(dir, 'decisions.log');
    const gatehouse: ServeProcess = await startServe(bundle, ['--workers', '2', '--decision-log', log, '--decision-cache', 'off']);
    stops.push(async () => gatehouse.child.kill('SIGKILL'));
    const upstream = await startUpstream();
    stops.push(upstream.close);
    const http2 = { explicit_http_config: { http2_protocol_options: {} } };
    const cases: Record<string, Record<string, unknown>> = {
      single: http2,
      stream_limit: { explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 4 } } },
      requests_per_connection: { ...http2, common_http_protocol_options: { max_requests_per_connection: 10 } },
    };
    for (const [name, options] of Object.entries(cases)) {
      const envoy = await startEnvoy(dir, name, gatehouse.grpcPort, upstream.port, options);
      stops.push(envoy.stop);
      // Concurrent requests for the stream limit to matter; sequential ones for the others.
      const statuses = await load(envoy.port, name, 60, name === 'stream_limit' ? 24 : 1);
      expect(statuses.filter((status) => status === 200)).toHaveLength(60);
      await envoy.stop();
    }
    gatehouse.child.kill('SIGTERM');
    expect(await gatehouse.exited).toBe(0);
    const workersBy = new Map<string, Set<string>>();
    for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
      const event = JSON.parse(line) as { input: { attributes: { request: { http: { headers: Record<string, string> } } } }; labels: { worker: string } };
      const tag = event.input.attributes.request.http.headers['x-case']!;
      if (!workersBy.has(tag)) workersBy.set(tag, new Set());
      workersBy.get(tag)!.add(event.labels.worker);
    }
    expect(workersBy.get('single')?.size).toBe(1);
    expect(workersBy.get('stream_limit')).toEqual(new Set(['1', '2']));
    expect(workersBy.get('requests_per_connection')).toEqual(new Set(['1', '2']));
  }, 120_000);
});
