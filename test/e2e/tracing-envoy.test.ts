/**
 * One trace across a real Envoy and gatehouse, in a real Jaeger: Envoy traces with its
 * OpenTelemetry tracer (exporting over OTLP/gRPC to Jaeger) and puts its ext_authz call's span
 * context into the Check's gRPC metadata; gatehouse (`gatehouse serve --tracing otlp`, exporting
 * over OTLP/HTTP to the same Jaeger) continues it. The test reads the trace back and checks that
 * gatehouse's server span is the child of Envoy's ext_authz span, in the client's trace.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { waitFor } from '../../lab/lab.mjs';
import { eventually } from '../support/app.js';
import { MAIN, startServe, type ServeProcess } from '../support/cli.js';
import { Jaeger, jaegerOrSkip, tag, type JaegerTrace } from '../support/jaeger.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { request, startUpstream } from './sidecar.js';

const envoyTool = envoyOrSkip();
const opa = opaOrSkip();
const jaegerTool = jaegerOrSkip();
const POLICY = 'package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if input.parsed_path[0] == "ok"\n';
const CHECK = 'envoy.service.auth.v3.Authorization/Check';

describe.skipIf(envoyTool.skip || opa.skip || jaegerTool.skip)('tracing through a real Envoy into Jaeger', () => {
  let jaeger: Jaeger;
  let gatehouse: ServeProcess;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let envoy: { port: number; stop(): Promise<void> };
  const saved = { ...process.env };

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run "./dev setup" (or npm run build) first');
    jaeger = await Jaeger.start(jaegerTool.jaeger);
    const dir = tempDir();
    const bundle = buildBundle(opa.opa, { 'policy.rego': POLICY }, path.join(dir, 'bundle.tar.gz'), { revision: 'traced-1' });
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'gatehouse' });
    gatehouse = await startServe(bundle, ['--workers', '1', '--tracing', 'otlp', '--decision-log', 'off']);
    upstream = await startUpstream();
    envoy = await startTracingEnvoy(envoyTool.envoy, dir, gatehouse.grpcPort, upstream.port, jaeger.otlpGrpcPort);
  }, 90_000);

  afterAll(async () => {
    process.env = saved;
    await envoy?.stop();
    gatehouse?.child.kill('SIGKILL');
    await upstream?.close();
    await jaeger?.stop();
  });

  it('gatehouse\'s Check span is the child of Envoy\'s ext_authz span, in the client\'s trace', async () => {
    const traceId = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    const sidecar = { port: envoy.port, adminPort: 0, accessLog: () => [], stop: envoy.stop };
    const allowed = await request(sidecar, { path: '/ok', headers: { traceparent: `00-${traceId}-${clientSpan}-01` } });
    expect(allowed.status).toBe(200);
    const denied = await request(sidecar, { path: '/no', headers: { traceparent: `00-${randomBytes(16).toString('hex')}-${clientSpan}-01` } });
    expect(denied.status).toBe(403);

    let trace: JaegerTrace | undefined;
    await eventually(async () => {
      trace = await jaeger.trace(traceId);
      const services = new Set(Object.values(trace?.processes ?? {}).map((p) => p.serviceName));
      return services.has('envoy-sidecar') && services.has('gatehouse') && (trace?.spans.length ?? 0) >= 5;
    }, 30_000);
    const service = (spanProcess: string) => trace!.processes[spanProcess]!.serviceName;
    const byId = new Map(trace!.spans.map((span) => [span.spanID, span]));
    const check = trace!.spans.find((span) => span.operationName === CHECK && service(span.processID) === 'gatehouse')!;
    expect(check).toBeDefined();
    const parentId = check.references.find((ref) => ref.refType === 'CHILD_OF')!.spanID;
    const parent = byId.get(parentId)!;
    // Envoy's span of its ext_authz gRPC call ("async envoy.service.auth.v3.Authorization.Check
    // egress"), a child of its ingress span, itself the child of the client's span.
    expect(parent).toBeDefined();
    expect(service(parent.processID)).toBe('envoy-sidecar');
    expect(parent.operationName).toMatch(/Authorization\.Check/);
    const ingress = byId.get(parent.references.find((ref) => ref.refType === 'CHILD_OF')!.spanID)!;
    expect(ingress.references.find((ref) => ref.refType === 'CHILD_OF')!.spanID).toBe(clientSpan);
    expect(parentId).not.toBe(clientSpan);
    expect(tag(check, 'gatehouse.decision')).toBe('allow');
    expect(tag(check, 'gatehouse.policy.revision')).toBe('traced-1');
    for (const child of ['gatehouse.input', 'gatehouse.evaluate']) {
      const span = trace!.spans.find((s) => s.operationName === child);
      expect(span, child).toBeDefined();
      expect(span!.references.find((ref) => ref.refType === 'CHILD_OF')!.spanID, child).toBe(check.spanID);
    }
  }, 60_000);
});

/** Envoy with ext_authz to gatehouse and the OpenTelemetry tracer exporting to Jaeger over OTLP/gRPC. */
async function startTracingEnvoy(envoy: string, dir: string, gatehousePort: number, upstreamPort: number, otlpGrpcPort: number): Promise<{ port: number; stop(): Promise<void> }> {
  const h2 = {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
  };
  const cluster = (name: string, port: number, http2: boolean) => ({
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    ...(http2 ? h2 : {}),
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
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
              tracing: {
                provider: {
                  name: 'envoy.tracers.opentelemetry',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
                    grpc_service: { envoy_grpc: { cluster_name: 'jaeger_otlp' }, timeout: '1s' },
                    service_name: 'envoy-sidecar',
                  },
                },
              },
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
      clusters: [cluster('upstream', upstreamPort, false), cluster('gatehouse', gatehousePort, true), cluster('jaeger_otlp', otlpGrpcPort, true)],
    },
  };
  const configFile = path.join(dir, 'envoy-tracing.yaml');
  const adminFile = path.join(dir, 'envoy-tracing-admin');
  const logFile = path.join(dir, 'envoy-tracing.log');
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
      if (child.exitCode !== null) throw new Error(`Envoy exited:\n${readFileSync(logFile, 'utf8')}`);
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
