/**
 * One trace across a real Envoy and gatehouse, in a real Jaeger: Envoy traces with its
 * OpenTelemetry tracer (exporting over OTLP/gRPC to Jaeger) and puts its ext_authz call's span
 * context into the Check's gRPC metadata; gatehouse (`gatehouse serve --tracing otlp`, exporting
 * over OTLP/HTTP to the same Jaeger) continues it. The test reads the trace back and checks that
 * gatehouse's server span is the child of Envoy's ext_authz span, in the client's trace.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { requireBuiltCli, type ServeProcess, startServe } from '../support/cli.js';
import { Jaeger, jaegerOrSkip, tag, type JaegerTrace } from '../support/jaeger.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip, grpcExtAuthzFilter, HTTP2_OPTIONS, ingressEnvoyConfig, runEnvoy, staticCluster } from './envoy.js';
import { request, startUpstream } from './sidecar.js';

const envoyTool = envoyOrSkip();
requireBuiltCli();
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
function startTracingEnvoy(envoy: string, dir: string, gatehousePort: number, upstreamPort: number, otlpGrpcPort: number): Promise<{ port: number; stop(): Promise<void> }> {
  const tracing = {
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
        grpc_service: { envoy_grpc: { cluster_name: 'jaeger_otlp' }, timeout: '1s' },
        service_name: 'envoy-sidecar',
      },
    },
  };
  const clusters = [staticCluster('upstream', upstreamPort), staticCluster('gatehouse', gatehousePort, HTTP2_OPTIONS), staticCluster('jaeger_otlp', otlpGrpcPort, HTTP2_OPTIONS)];
  return runEnvoy(envoy, dir, 'envoy-tracing', ingressEnvoyConfig([grpcExtAuthzFilter()], clusters, { tracing }));
}
