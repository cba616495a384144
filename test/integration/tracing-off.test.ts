/**
 * tracing: off loads none of the OpenTelemetry SDK (only @opentelemetry/api, which prom-client
 * already requires), watched through Node's own module-loader debug output of a real `gatehouse
 * serve`; tracing: otlp with no collector listening still answers every Check and says in the
 * operational log that spans are lost.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp } from '../support/app.js';
import { MAIN, requireBuiltCli } from '../support/cli.js';
import { buildBundle, tempDir, CHECKOUT_ONLY_POLICY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { ROOT, opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
requireBuiltCli();

/** The @opentelemetry packages a `gatehouse serve --tracing <mode>` loads until it serves. */
async function loadedOtelPackages(bundle: string, mode: string): Promise<Set<string>> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--bundle', bundle, '--addr', '127.0.0.1:0', '--admin-addr', 'off', '--workers', '1', '--decision-log', 'off', '--tracing', mode], {
    cwd: ROOT,
    env: { ...process.env, NODE_DEBUG: 'module', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.resume();
  try {
    await eventually(() => stderr.includes('is serving'), 15_000);
  } finally {
    child.kill('SIGKILL');
  }
  return new Set([...stderr.matchAll(/node_modules\/(@opentelemetry\/[a-z0-9-]+)\//g)].map((match) => match[1]!));
}

describe.skipIf(tool.skip)('tracing off and on, without a collector', () => {
  let bundle: string;
  beforeAll(() => {
    bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(tempDir(), 'bundle.tar.gz'), { revision: 'r1' });
  });

  it('tracing: off loads no OpenTelemetry SDK module; otlp does', async () => {
    const off = await loadedOtelPackages(bundle, 'off');
    expect([...off].filter((name) => name !== '@opentelemetry/api')).toEqual([]);
    const on = await loadedOtelPackages(bundle, 'otlp');
    expect(on).toContain('@opentelemetry/sdk-trace-base');
    expect(on).toContain('@opentelemetry/exporter-trace-otlp-proto');
  }, 60_000);

  it('with the collector down, every Check is answered and the lost spans are reported', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_EXPORTER_OTLP_TIMEOUT: '500' });
    const app = await startTestApp({ bundle, tracing: 'otlp' });
    try {
      for (let i = 0; i < 20; i++) {
        const reply = await app.client.check(checkRequestJson({ source: CHECKOUT, headers: { traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` } }));
        expect(reply.allowed).toBe(true);
      }
      await eventually(() => app.logs.some((line) => typeof line.msg === 'string' && line.msg.startsWith('tracing: the OpenTelemetry SDK reports a problem')), 20_000);
      expect(app.decisions).toHaveLength(20);
    } finally {
      process.env = saved;
      await app.stop();
    }
  }, 60_000);
});
