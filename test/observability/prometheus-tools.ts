/**
 * Locating `prometheus` and `promtool` (Debian's prometheus package, installed by
 * scripts/ensure-prometheus.sh) and running a throwaway Prometheus for a test. Outside CI a
 * missing binary skips the tests that need it, naming the command that installs it; in CI
 * (CI=true) it fails them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { ROOT } from '../support/tools.js';
import { tempDir } from '../support/policy.js';

export const PROMETHEUS_DIR = path.join(ROOT, 'observability/prometheus');
export const ALERT_RULES = path.join(PROMETHEUS_DIR, 'alerts.yaml');
export const ALERT_TESTS = path.join(PROMETHEUS_DIR, 'alerts.test.yaml');
export const DASHBOARD = path.join(ROOT, 'observability/grafana/gatehouse-dashboard.json');

function findBinary(name: string): string | undefined {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return name;
  } catch {
    const system = `/usr/bin/${name}`;
    return existsSync(system) ? system : undefined;
  }
}

export type PrometheusTools = { prometheus: string; promtool: string; skip: false } | { prometheus: ''; promtool: ''; skip: string };

/** Both binaries, or a reason to skip (outside CI) that names the install command. */
export function prometheusOrSkip(): PrometheusTools {
  const prometheus = findBinary('prometheus');
  const promtool = findBinary('promtool');
  if (prometheus && promtool) return { prometheus, promtool, skip: false };
  const message = 'prometheus/promtool not found: run "./dev setup" (installs the Debian prometheus package via scripts/ensure-prometheus.sh)';
  if (process.env.CI === 'true') throw new Error(`${message}; CI must not skip tests`);
  return { prometheus: '', promtool: '', skip: message };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningPrometheus {
  url: string;
  /** Everything Prometheus logged so far (for failure messages). */
  output(): string;
  /** GET /api/v1/<path>; returns the `data` field, throws on an API error. */
  api<T = any>(apiPath: string, params?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts `prometheus` on 127.0.0.1 with a temporary config and storage dir: scrapes
 * `targets` every second as job "gatehouse", evaluates `ruleFiles` every second.
 */
export async function startPrometheus(binary: string, options: { targets: string[]; ruleFiles: string[] }): Promise<RunningPrometheus> {
  const dir = tempDir('gatehouse-prometheus-');
  mkdirSync(path.join(dir, 'data'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`),
    'scrape_configs:',
    '  - job_name: gatehouse',
    '    static_configs:',
    `      - targets: ${JSON.stringify(options.targets)}`,
  ].join('\n');
  writeFileSync(path.join(dir, 'prometheus.yml'), `${config}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk) => (log += chunk));
  child.stderr?.on('data', (chunk) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const running: RunningPrometheus = {
    url,
    output: () => log,
    async api(apiPath, params = {}) {
      const response = await fetch(`${url}/api/v1/${apiPath}?${new URLSearchParams(params)}`);
      const body = (await response.json()) as { status: string; data: any; error?: string };
      if (body.status !== 'success') throw new Error(`Prometheus ${apiPath} ${JSON.stringify(params)}: ${body.error}`);
      return body.data;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return running;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await running.stop();
      throw new Error(`prometheus did not become ready within 15 s:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Poll `attempt` until it returns a value (not undefined), at most `timeoutMs`. */
export async function poll<T>(attempt: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms${last ? `; last error: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The dashboard JSON, its panels (rows' nested panels included) and the panels that query. */
export function loadDashboard(): { dashboard: any; panels: any[]; dataPanels: any[] } {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  const panels: any[] = dashboard.panels.flatMap((panel: any) => [panel, ...(panel.panels ?? [])]);
  return { dashboard, panels, dataPanels: panels.filter((panel) => panel.type !== 'row') };
}

/** Every PromQL expression of the dashboard: panel targets and annotation queries. */
export function dashboardExpressions(): string[] {
  const { dashboard, dataPanels } = loadDashboard();
  return [
    ...dataPanels.flatMap((panel) => panel.targets.map((target: any) => target.expr as string)),
    ...dashboard.annotations.list.flatMap((annotation: any) => (annotation.expr ? [annotation.expr as string] : [])),
  ];
}

/** A dashboard expression with Grafana's variables replaced, ready for the Prometheus API. */
export function withVariables(expr: string, job: string): string {
  return expr
    .replaceAll('$job', job)
    .replaceAll('$instance', '.*')
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '5m')
    .replaceAll('$__interval', '15s');
}
