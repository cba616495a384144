/** Start a real gatehouse app (gRPC + admin on port 0) with in-memory logs. */
import { Writable } from 'node:stream';
import pino from 'pino';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { TestClient } from './grpc-client.js';

export interface TestApp {
  app: RunningApp;
  client: TestClient;
  /** Decision-log events written so far. */
  decisions: Record<string, any>[];
  /** Operational log lines written so far. */
  logs: Record<string, any>[];
  admin(path: string): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
}

/**
 * `options.override`: settings put in place after validation, for values start-up refuses but a
 * test needs (a connection age short enough to watch several cycles).
 */
export async function startTestApp(flags: Record<string, string>, options: { client?: TestClient | false; override?: Partial<Config> } = {}): Promise<TestApp> {
  const config: Config = {
    ...loadConfig({
      flags: { addr: '127.0.0.1:0', 'admin-addr': '127.0.0.1:0', 'reload-debounce-ms': '50', ...flags },
      env: {},
    }),
    ...options.override,
  };
  const decisions: Record<string, any>[] = [];
  const logs: Record<string, any>[] = [];
  const logger = pino({ level: 'debug' }, lineStream(logs));
  const app = await startApp(config, { logger, decisionLogSink: { write: (line) => decisions.push(JSON.parse(line)) } });
  const client = options.client === undefined ? new TestClient(`127.0.0.1:${app.grpcPort}`) : options.client || new TestClient('127.0.0.1:1');
  return {
    app,
    client,
    decisions,
    logs,
    async admin(path) {
      const response = await fetch(`http://127.0.0.1:${app.adminPort}${path}`);
      return { status: response.status, text: await response.text() };
    },
    async stop() {
      client.close();
      await app.stop();
    },
  };
}

function lineStream(into: Record<string, any>[]): Writable {
  return new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) into.push(JSON.parse(line));
      done();
    },
  });
}

/** Poll until `predicate` holds (for reloads triggered by file watching). */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
