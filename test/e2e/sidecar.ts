/**
 * One real Envoy in front of one upstream, asking a `gatehouse serve` process: the smallest mesh
 * hop, for end-to-end tests that need their own ext_authz settings (failure_mode_allow, big
 * bodies, the peer certificate) rather than the lab's sidecars. Everything binds 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { waitFor } from '../../lab/lab.mjs';

export interface UpstreamRequest {
  path: string;
  /** As received, repeated headers kept apart (`rawHeaders` pairs). */
  rawHeaders: string[];
  bodyBytes: number;
}

/** An HTTP service that records what reached it and answers 200 with one `set-cookie` of its own. */
export async function startUpstream(): Promise<{ port: number; seen: UpstreamRequest[]; close(): Promise<void> }> {
  const seen: UpstreamRequest[] = [];
  const server = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', rawHeaders: req.rawHeaders, bodyBytes });
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': 'upstream=1; Path=/' });
      res.end('upstream reached\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The values of header `name` in a `rawHeaders` list, in order. */
export function rawValues(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  return values;
}

export interface SidecarOptions {
  envoy: string;
  dir: string;
  gatehousePort: number;
  upstreamPort: number;
  failureModeAllow: boolean;
  /** ext_authz encode_raw_headers: headers as header_map with raw bytes (invalid UTF-8 kept). */
  encodeRawHeaders?: boolean;
  /** with_request_body.max_request_bytes (allow_partial_message false); none: no body sent. */
  maxRequestBytes?: number;
  /** Serve HTTPS and require a client certificate from this CA; forward it (include_peer_certificate). */
  tls?: { cert: string; key: string; clientCa: string };
  /** Call gatehouse over mTLS with this client certificate, trusting `ca` for gatehouse's. */
  gatehouseTls?: { cert: string; key: string; ca: string };
  /** with_request_body.pack_as_bytes: the body as raw_body bytes (no UTF-8 string). */
  packAsBytes?: boolean;
  /** ext_authz grpc_service.timeout; default '10s'. Envoy's own default is '0.2s'. */
  authzTimeout?: string;
  /** More gatehouse instances in the same cluster, beside gatehousePort. */
  moreGatehousePorts?: number[];
  /** Envoy closes its own connections to gatehouse after this long (common_http_protocol_options.max_connection_duration), e.g. '0.2s'. */
  gatehouseMaxConnectionDuration?: string;
  /** Active grpc.health.v1 checks of the gatehouse hosts every this many ms (one failure marks a host unhealthy; panic mode off). */
  gatehouseHealthCheckMs?: number;
  /**
   * Retry Checks gatehouse refused unprocessed (a GOAWAY's last-stream-id, REFUSED_STREAM): the
   * ext_authz grpc_service retry_policy plus room for concurrent retries on the gatehouse cluster
   * (README, TLS section: what gatehouse's max_connection_age_ms needs from Envoy).
   */
  gatehouseRetryRefused?: boolean;
}

export interface Sidecar {
  port: number;
  adminPort: number;
  /** Access-log lines (JSON), newest last. */
  accessLog(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const accessLogFile = path.join(options.dir, 'access.log');
  const adminFile = path.join(options.dir, 'admin-address');
  const configFile = path.join(options.dir, 'envoy.yaml');
  writeFileSync(configFile, YAML.stringify(envoyConfig(options, accessLogFile)));
  const child = spawn(options.envoy, [
    '--config-path', configFile, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn',
    '--log-path', path.join(options.dir, 'envoy.log'), '--admin-address-path', adminFile, '--file-flush-interval-msec', '50',
  ], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const admin = await waitFor('Envoy\'s admin address', () => {
      if (child.exitCode !== null) throw new Error(`Envoy exited:\n${readFileSync(path.join(options.dir, 'envoy.log'), 'utf8')}`);
      return existsSync(adminFile) ? readFileSync(adminFile, 'utf8').trim() || undefined : undefined;
    }, 20_000);
    const adminPort = Number(admin.split(':').pop());
    const listeners = await waitFor('Envoy\'s listener', async () => {
      const response = await fetch(`http://${admin}/listeners?format=json`).catch(() => undefined);
      const body = response?.ok ? ((await response.json()) as { listener_statuses?: Array<{ local_address?: { socket_address?: { port_value?: number } } }> }) : undefined;
      return body?.listener_statuses?.[0]?.local_address?.socket_address?.port_value || undefined;
    }, 20_000);
    return {
      port: listeners,
      adminPort,
      accessLog: () =>
        existsSync(accessLogFile)
          ? readFileSync(accessLogFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
          : [],
      stop: () => stopChild(child, exited),
    };
  } catch (error) {
    await stopChild(child, exited);
    throw error;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function envoyConfig(options: SidecarOptions, accessLog: string): object {
  const extAuthz: Record<string, unknown> = {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
    transport_api_version: 'V3',
    failure_mode_allow: options.failureModeAllow,
    include_peer_certificate: true,
    validate_mutations: true,
    grpc_service: {
      envoy_grpc: { cluster_name: 'gatehouse' },
      timeout: options.authzTimeout ?? '10s',
      // Envoy uses max_interval as the per-try timeout too (convertCoreToRouteRetryPolicy): keep it at the call's timeout.
      ...(options.gatehouseRetryRefused ? { retry_policy: { retry_on: 'refused-stream', num_retries: 3, retry_back_off: { base_interval: '0.005s', max_interval: options.authzTimeout ?? '10s' } } } : {}),
    },
  };
  if (options.encodeRawHeaders) extAuthz.encode_raw_headers = true;
  if (options.maxRequestBytes) extAuthz.with_request_body = { max_request_bytes: options.maxRequestBytes, allow_partial_message: false, ...(options.packAsBytes ? { pack_as_bytes: true } : {}) };
  const listener: Record<string, unknown> = {
    name: 'ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    // Room for the bodies the tests send (Envoy buffers them for ext_authz).
    per_connection_buffer_limit_bytes: 128 * 1024 * 1024,
    filter_chains: [{
      ...(options.tls ? { transport_socket: downstreamTls(options.tls) } : {}),
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'ingress',
          access_log: [{
            name: 'envoy.access_loggers.file',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
              path: accessLog,
              log_format: {
                json_format: {
                  request_id: '%REQ(X-REQUEST-ID)%',
                  response_code: '%RESPONSE_CODE%',
                  response_code_details: '%RESPONSE_CODE_DETAILS%',
                  decision_id: '%DYNAMIC_METADATA(envoy.filters.http.ext_authz:decision_id)%',
                  reason_code: '%DYNAMIC_METADATA(envoy.filters.http.ext_authz:reason_code)%',
                  upstream_host: '%UPSTREAM_HOST%',
                },
              },
            },
          }],
          route_config: {
            virtual_hosts: [{ name: 'upstream', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream', timeout: '30s' } }] }],
          },
          http_filters: [
            { name: 'envoy.filters.http.ext_authz', typed_config: extAuthz },
            { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
          ],
        },
      }],
    }],
  };
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [listener],
      clusters: [
        staticCluster('upstream', [options.upstreamPort], false),
        {
          ...staticCluster('gatehouse', [options.gatehousePort, ...(options.moreGatehousePorts ?? [])], true, options.gatehouseMaxConnectionDuration),
          ...(options.gatehouseTls ? { transport_socket: upstreamTls(options.gatehouseTls) } : {}),
          ...(options.gatehouseHealthCheckMs ? grpcHealthCheck(options.gatehouseHealthCheckMs) : {}),
          // Envoy allows 3 concurrent retries per cluster by default; a GOAWAY can refuse more Checks at once.
          ...(options.gatehouseRetryRefused ? { circuit_breakers: { thresholds: [{ max_retries: 1024 }] } } : {}),
        },
      ],
    },
  };
}

function downstreamTls(tls: NonNullable<SidecarOptions['tls']>): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      require_client_certificate: true,
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: tls.cert }, private_key: { filename: tls.key } }],
        validation_context: { trusted_ca: { filename: tls.clientCa } },
      },
    },
  };
}

function upstreamTls(tls: NonNullable<SidecarOptions['gatehouseTls']>): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: 'localhost',
      common_tls_context: {
        alpn_protocols: ['h2'],
        tls_certificates: [{ certificate_chain: { filename: tls.cert }, private_key: { filename: tls.key } }],
        validation_context: { trusted_ca: { filename: tls.ca } },
      },
    },
  };
}

/** Active gRPC health checking: one NOT_SERVING (or failed call) takes a host out, one SERVING puts it back. */
function grpcHealthCheck(intervalMs: number): object {
  return {
    // no_traffic_interval too: Envoy does not count ext_authz calls as cluster traffic, and would otherwise check only every 60 s.
    health_checks: [{ timeout: '1s', interval: `${intervalMs / 1000}s`, no_traffic_interval: `${intervalMs / 1000}s`, unhealthy_threshold: 1, healthy_threshold: 1, grpc_health_check: {} }],
    // Without this, one of two hosts unhealthy is at Envoy's 50% panic threshold and it may route to both.
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
  };
}

function staticCluster(name: string, ports: number[], http2: boolean, maxConnectionDuration?: string): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    ...(http2
      ? {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
              ...(maxConnectionDuration ? { common_http_protocol_options: { max_connection_duration: maxConnectionDuration } } : {}),
            },
          },
        }
      : {}),
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })) }] },
  };
}

export interface Reply {
  status: number;
  rawHeaders: string[];
  headers: IncomingHttpHeaders;
  text: string;
  requestId: string;
}

/** One request through the sidecar (HTTPS with `client` credentials when the sidecar serves TLS). */
export function request(
  sidecar: Sidecar,
  options: { path: string; method?: string; headers?: Record<string, string>; body?: Buffer | string; client?: { cert: string; key: string; ca: string } },
): Promise<Reply> {
  const requestId = options.headers?.['x-request-id'] ?? crypto.randomUUID();
  const base = { host: '127.0.0.1', port: sidecar.port, path: options.path, method: options.method ?? 'GET', headers: { 'x-request-id': requestId, ...options.headers }, agent: false as const };
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), requestId }));
    };
    const req = options.client
      ? https.request({ ...base, cert: readFileSync(options.client.cert), key: readFileSync(options.client.key), ca: readFileSync(options.client.ca), servername: 'localhost' }, onResponse)
      : http.request(base, onResponse);
    req.setTimeout(60_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A policy that allows every GET and nothing else: under steadyLoad every request must be a 200. */
export const GET_ONLY_POLICY = 'package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method == "GET"\n';

export interface SteadyLoad {
  /** Responses so far by HTTP status; 0 counts a request that failed without one. */
  statuses: Map<number, number>;
  sent(): number;
  /** Lets every worker finish its request in flight, then resolves. */
  stop(): Promise<void>;
}

/** `workers` clients each sending GET /orders through the sidecar, one after another, until stopped. */
export function steadyLoad(sidecar: Sidecar, workers: number): SteadyLoad {
  const statuses = new Map<number, number>();
  let running = true;
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      while (running) {
        const status = await request(sidecar, { path: '/orders' }).then((reply) => reply.status, () => 0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return {
    statuses,
    sent: () => [...statuses.values()].reduce((x, y) => x + y, 0),
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Envoy's view of the gatehouse cluster's hosts (active health checks): port → healthy. */
export async function hostHealth(sidecar: Sidecar): Promise<Map<number, boolean>> {
  const body = (await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/clusters?format=json`)).json()) as {
    cluster_statuses: Array<{ name: string; host_statuses?: Array<{ address: { socket_address: { port_value: number } }; health_status: Record<string, unknown> }> }>;
  };
  const cluster = body.cluster_statuses.find((c) => c.name === 'gatehouse')!;
  return new Map((cluster.host_statuses ?? []).map((h) => [h.address.socket_address.port_value, h.health_status.failed_active_health_check !== true]));
}

/** Checks a `gatehouse serve` process allowed so far (policy_allowed), from its /metrics. */
export async function allowed(p: { adminPort: number }): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${p.adminPort}/metrics`)).text();
  return Number(/gatehouse_decisions_total\{outcome="allow",reason="policy_allowed"\} (\d+)/.exec(metrics)?.[1] ?? 0);
}
