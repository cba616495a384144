/**
 * How Envoy's connections reach gatehouse's workers (docs/operations.md#workers): balancing is per
 * connection, so one Envoy worker thread with one HTTP/2 connection uses one gatehouse worker; a
 * stream limit on the gatehouse cluster (more connections when busy) or max_requests_per_connection
 * (connections replaced over time) spreads Checks over every worker. Real Envoy, real
 * `gatehouse serve --workers 2`; which worker decided each Check is in the decision log
 * (labels.worker).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/lab.mjs';
import { eventually } from '../support/app.js';
import { startServe, type ServeProcess } from '../support/cli.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { startUpstream } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();

interface EnvoyProcess {
  port: number;
  stop(): Promise<void>;
}

/** Envoy with one worker thread (--concurrency 1), ext_authz to gatehouse with these HTTP protocol options. */
async function startEnvoy(dir: string, name: string, gatehousePort: number, upstreamPort: number, protocolOptions: Record<string, unknown>): Promise<EnvoyProcess> {
  const cluster = (clusterName: string, port: number, options?: Record<string, unknown>) => ({
    name: clusterName,
    type: 'STATIC',
    connect_timeout: '1s',
    ...(options
      ? { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', ...options } } }
      : {}),
    load_assignment: { cluster_name: clusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
  });
  const config = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: 'ingress',
        address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              route_config: { virtual_hosts: [{ name: 'upstream', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }] }] },
              http_filters: [
                {
                  name: 'envoy.filters.http.ext_authz',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
                    transport_api_version: 'V3',
                    failure_mode_allow: false,
                    grpc_service: { envoy_grpc: { cluster_name: 'gatehouse' }, timeout: '10s' },
                  },
                },
                { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
              ],
            },
          }],
        }],
      }],
      clusters: [cluster('upstream', upstreamPort), cluster('gatehouse', gatehousePort, protocolOptions)],
    },
  };
  const configFile = path.join(dir, `${name}.yaml`);
  const adminFile = path.join(dir, `${name}.admin`);
  writeFileSync(configFile, YAML.stringify(config));
  const child = spawn(tool.envoy, ['--config-path', configFile, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--log-path', path.join(dir, `${name}.log`), '--admin-address-path', adminFile], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    const admin = await waitFor('Envoy\'s admin address', () => (existsSync(adminFile) ? readFileSync(adminFile, 'utf8').trim() || undefined : undefined), 20_000);
    const port = await waitFor('Envoy\'s listener', async () => {
      const response = await fetch(`http://${admin}/listeners?format=json`).catch(() => undefined);
      const body = response?.ok ? ((await response.json()) as { listener_statuses?: Array<{ local_address?: { socket_address?: { port_value?: number } } }> }) : undefined;
      return body?.listener_statuses?.[0]?.local_address?.socket_address?.port_value || undefined;
    }, 20_000);
    return { port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
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
