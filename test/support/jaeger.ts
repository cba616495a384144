/**
 * A real Jaeger (v2, all-in-one with in-memory storage; scripts/ensure-jaeger.sh builds it into
 * .tools/bin) on 127.0.0.1 ports chosen here: an OTLP/HTTP receiver for gatehouse's exporter and the
 * query API the tests read traces back from. Outside CI a missing binary skips the tests that need
 * it, naming the install command; in CI it fails them.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { eventually } from './app.js';
import { tempDir } from './policy.js';
import { ROOT } from './tools.js';

const BINARY = path.join(ROOT, '.tools/bin/jaeger');

export function jaegerOrSkip(): { jaeger: string; skip: false } | { jaeger: ''; skip: string } {
  if (existsSync(BINARY)) return { jaeger: BINARY, skip: false };
  const message = 'jaeger not found: run "./dev setup" (scripts/ensure-jaeger.sh builds Jaeger v2 into .tools/bin with Go)';
  if (process.env.CI === 'true') throw new Error(`${message}; CI must not skip tests`);
  return { jaeger: '', skip: message };
}

/** A span as Jaeger's query API (/api/traces/<id>) returns it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
  processID: string;
  startTime: number;
  duration: number;
}

export interface JaegerTrace {
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
}

export class Jaeger {
  /** OTLP/HTTP base URL (gatehouse's exporter appends /v1/traces). */
  readonly otlpEndpoint: string;
  /** OTLP/gRPC port (Envoy's OpenTelemetry tracer exports there). */
  readonly otlpGrpcPort: number;
  readonly #queryUrl: string;
  readonly #child: ChildProcessWithoutNullStreams;
  #output = '';

  private constructor(child: ChildProcessWithoutNullStreams, otlpPort: number, queryPort: number, otlpGrpcPort: number) {
    this.#child = child;
    this.otlpGrpcPort = otlpGrpcPort;
    this.otlpEndpoint = `http://127.0.0.1:${otlpPort}`;
    this.#queryUrl = `http://127.0.0.1:${queryPort}`;
    child.stdout.on('data', (chunk) => (this.#output += chunk));
    child.stderr.on('data', (chunk) => (this.#output += chunk));
  }

  static async start(binary: string): Promise<Jaeger> {
    const [otlpPort, queryPort, queryGrpcPort, otlpGrpcPort] = await freePorts(4);
    const config = path.join(tempDir('gatehouse-jaeger-'), 'jaeger.yaml');
    writeFileSync(
      config,
      `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
      grpc:
        endpoint: 127.0.0.1:${otlpGrpcPort}
extensions:
  jaeger_storage:
    backends:
      memory_store:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memory_store
    http:
      endpoint: 127.0.0.1:${queryPort}
    grpc:
      endpoint: 127.0.0.1:${queryGrpcPort}
exporters:
  jaeger_storage_exporter:
    trace_storage: memory_store
`,
    );
    const child = spawn(binary, ['--config', config], { stdio: 'pipe' });
    const jaeger = new Jaeger(child, otlpPort, queryPort, otlpGrpcPort);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`jaeger exited (${child.exitCode}):\n${jaeger.#output}`);
        try {
          return (await fetch(`${jaeger.#queryUrl}/api/services`)).ok;
        } catch {
          return false;
        }
      }, 30_000);
    } catch (error) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${(error as Error).message}\n${jaeger.#output}`);
    }
    return jaeger;
  }

  /** The trace with this id (32 hex), or undefined while Jaeger has none. */
  async trace(traceId: string): Promise<JaegerTrace | undefined> {
    const response = await fetch(`${this.#queryUrl}/api/traces/${traceId}`);
    if (response.status === 404) return undefined;
    const body = (await response.json()) as { data?: JaegerTrace[] };
    return body.data?.[0];
  }

  /** Traces of `service` (at most `limit`). */
  async traces(service: string, limit = 200): Promise<JaegerTrace[]> {
    const response = await fetch(`${this.#queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=${limit}&lookback=1h`);
    const body = (await response.json()) as { data?: JaegerTrace[] };
    return body.data ?? [];
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export function tag(span: JaegerSpan | { tags: { key: string; value: unknown }[] }, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
