/** The real `gatehouse` binary (dist/main.js, built by ./dev setup), run as a user would. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../support/grpc-client.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { ROOT, opaOrSkip } from '../support/tools.js';

const MAIN = path.join(ROOT, 'dist/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, GATEHOUSE_BUNDLE: '' } });

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run "./dev setup" (or npm run build) first');
});

describe('gatehouse --help and configuration errors', () => {
  it('prints usage', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('gatehouse serve');
    expect(help.stdout).toContain('gatehouse check --bundle B --request R.json');
    const serveHelp = run('serve', '--help');
    for (const flag of ['--addr', '--bundle', '--entrypoint', '--admin-addr', '--log-level', '--config']) expect(serveHelp.stdout).toContain(flag);
  });

  it.each([
    [['serve'], 'bundle (default) is required. Fix: set --bundle'],
    [['serve', '--bundle', 'x.tar.gz', '--max-body-bytes', 'abc'], 'max_body_bytes (flag --max-body-bytes) must be an integer, got "abc"'],
    [['serve', '--bundle', 'x.tar.gz', '--addr', 'localhost'], 'addr (flag --addr) must be host:port'],
    [['serve', '--bogus'], "Unknown option '--bogus'"],
    [['frobnicate'], 'unknown command "frobnicate"'],
  ])('%j stops with exit 2 and says what to fix', (args, message) => {
    const result = run(...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

const tool = opaOrSkip();

describe.skipIf(tool.skip)('gatehouse check and serve with the example policy', () => {
  let bundle: string;
  beforeAll(() => {
    bundle = buildExampleBundle(tool.opa, tempDir());
  });

  it('check prints the input and decision; exit 0 when allowed, 1 when denied', () => {
    const allowed = run('check', '--bundle', bundle, '--request', path.join(ROOT, 'examples/check-request.json'));
    expect(allowed.status).toBe(0);
    const report = JSON.parse(allowed.stdout);
    expect(report.input.parsed_path).toEqual(['api', 'v1', 'stock', 'sku-42']);
    expect(report.decision).toMatchObject({ allowed: true, reason_code: 'policy_allowed' });
    expect(report.response.okResponse.headers[0].header).toEqual({ key: 'x-caller-spiffe-id', value: CHECKOUT });

    const denied = spawnSync(process.execPath, [MAIN, 'check', '--bundle', bundle, '--request', '-'], {
      input: JSON.stringify(checkRequestJson({ source: PAYMENTS })),
      encoding: 'utf8',
    });
    expect(denied.status).toBe(1);
    expect(JSON.parse(denied.stdout).decision).toMatchObject({ allowed: false, http_status: 403, reason: `${PAYMENTS} may not call inventory` });
  });

  it('check rejects a request that is not a CheckRequest', () => {
    const result = spawnSync(process.execPath, [MAIN, 'check', '--bundle', bundle, '--request', '-'], { input: '{"attributes": {"nope": 1}}', encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown field "nope"');
  });

  it('serve answers Checks and on SIGTERM finishes, flushes the decision log and exits 0', async () => {
    const child = spawn(process.execPath, [MAIN, 'serve', '--bundle', bundle, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0'], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 15_000;
    while (!stderr.includes('gatehouse is serving') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const serving = stderr.split('\n').find((line) => line.includes('gatehouse is serving'));
    expect(serving, stderr).toBeDefined();
    const port = JSON.parse(serving!).grpc_port as number;
    const client = new TestClient(`127.0.0.1:${port}`);
    const reply = await client.check(checkRequestJson({ source: CHECKOUT }));
    client.close();
    expect(reply.allowed).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('stopped after in-flight Checks finished');
    const line = stdout.split('\n').find((l) => l.includes(String(reply.metadata.decision_id)));
    expect(line, 'decision log line flushed to stdout').toBeDefined();
    expect(JSON.parse(line!).gatehouse.outcome).toBe('allow');
  });
});

describe.skipIf(tool.skip)('a decision-log sink that stops reading', () => {
  it('drops and counts lines instead of slowing Checks or growing memory, and still shuts down', async () => {
    const bundle = buildExampleBundle(tool.opa, tempDir());
    const child = spawn(
      process.execPath,
      [MAIN, 'serve', '--bundle', bundle, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--decision-log-buffer-bytes', '65536'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Nobody ever reads stdout: once the pipe (64 KiB) and the buffer (64 KiB) are full, the sink is stalled.
    child.stdout.pause();
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 15_000;
    while (!stderr.includes('gatehouse is serving') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const serving = JSON.parse(stderr.split('\n').find((line) => line.includes('gatehouse is serving'))!);
    const client = new TestClient(`127.0.0.1:${serving.grpc_port}`);
    const request = checkRequestJson({ source: CHECKOUT, headers: { 'x-padding': 'p'.repeat(2000) } });
    let answered = 0;
    for (let batch = 0; batch < 20; batch++) {
      const replies = await Promise.all(Array.from({ length: 100 }, () => client.check(request)));
      answered += replies.filter((r) => r.allowed).length;
    }
    client.close();
    expect(answered).toBe(2000);
    const metrics = await (await fetch(`http://127.0.0.1:${serving.admin_port}/metrics`)).text();
    const count = (result: string) => Number(new RegExp(`gatehouse_decision_log_lines_total\\{result="${result}"\\} (\\d+)`).exec(metrics)?.[1]);
    expect(count('dropped')).toBeGreaterThan(1000);
    expect(count('written') + count('dropped')).toBe(2000);
    const rss = Number(/^gatehouse_process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1]);
    expect(rss).toBeLessThan(300 * 1024 * 1024);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe.skipIf(tool.skip)('policies/ unit tests', () => {
  it('opa test passes for the example policy', () => {
    const result = spawnSync(tool.opa, ['test', path.join(ROOT, 'policies'), '-v'], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toMatch(/PASS: \d+\/\d+/);
    expect(result.stdout).not.toContain('FAIL');
    expect(result.status).toBe(0);
    const passed = Number(/PASS: (\d+)\/(\d+)/.exec(result.stdout)![1]);
    expect(passed).toBeGreaterThanOrEqual(15);
  });
});
