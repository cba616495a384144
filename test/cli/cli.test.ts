/** The real `gatehouse` binary (dist/main.js, built by ./dev setup), run as a user would. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAIN, requireBuiltCli, run, runWithStdin, startServe } from '../support/cli.js';
import { TestClient } from '../support/grpc-client.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { ROOT, opaOrSkip } from '../support/tools.js';

requireBuiltCli();

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
    [['serve', '--bogus'], "unknown option '--bogus'"],
    [['frobnicate'], "unknown command 'frobnicate'"],
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

    const denied = runWithStdin(JSON.stringify(checkRequestJson({ source: PAYMENTS })), 'check', '--bundle', bundle, '--request', '-');
    expect(denied.status).toBe(1);
    expect(JSON.parse(denied.stdout).decision).toMatchObject({ allowed: false, http_status: 403, reason: `${PAYMENTS} may not call inventory` });
  });

  it('check rejects a request that is not a CheckRequest', () => {
    const result = runWithStdin('{"attributes": {"nope": 1}}', 'check', '--bundle', bundle, '--request', '-');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown field "nope"');
  });

  it.each(['1', '2'])('serve --workers %s with unreadable TLS files exits 2 at once, naming the file', (workers) => {
    // Start-up fails after the bundle loaded (evaluation threads, watcher): nothing may keep it alive.
    const missing = path.join(tempDir(), 'missing.pem');
    const result = spawnSync(
      process.execPath,
      [MAIN, 'serve', '--bundle', bundle, '--addr', '127.0.0.1:0', '--admin-addr', 'off', '--workers', workers, '--tls-cert-file', missing, '--tls-key-file', missing],
      { encoding: 'utf8', cwd: ROOT, timeout: 20_000 },
    );
    expect(result.signal).toBeNull();
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`tls_cert_file ${missing} cannot be read`);
  });

  it('serve answers Checks and on SIGTERM finishes, flushes the decision log and exits 0', async () => {
    const server = await startServe(bundle);
    const client = new TestClient(`127.0.0.1:${server.grpcPort}`);
    const reply = await client.check(checkRequestJson({ source: CHECKOUT }));
    client.close();
    expect(reply.allowed).toBe(true);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain('stopped after in-flight Checks finished');
    const line = server.stdout().split('\n').find((l) => l.includes(String(reply.metadata.decision_id)));
    expect(line, 'decision log line flushed to stdout').toBeDefined();
    expect(JSON.parse(line!).gatehouse.outcome).toBe('allow');
  });
});

describe.skipIf(tool.skip)('a decision-log sink that stops reading', () => {
  it('drops and counts lines instead of slowing Checks or growing memory, and still shuts down', async () => {
    const bundle = buildExampleBundle(tool.opa, tempDir());
    // Nobody ever reads stdout: once the pipe (64 KiB) and the buffer (64 KiB) are full, the sink is stalled.
    const server = await startServe(bundle, ['--decision-log-buffer-bytes', '65536'], { readStdout: false });
    const client = new TestClient(`127.0.0.1:${server.grpcPort}`);
    const request = checkRequestJson({ source: CHECKOUT, headers: { 'x-padding': 'p'.repeat(2000) } });
    let answered = 0;
    for (let batch = 0; batch < 20; batch++) {
      const replies = await Promise.all(Array.from({ length: 100 }, () => client.check(request)));
      answered += replies.filter((r) => r.allowed).length;
    }
    client.close();
    expect(answered).toBe(2000);
    const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    const count = (result: string) => Number(new RegExp(`gatehouse_decision_log_lines_total\\{result="${result}"\\} (\\d+)`).exec(metrics)?.[1]);
    expect(count('dropped')).toBeGreaterThan(1000);
    expect(count('written') + count('dropped')).toBe(2000);
    // Summed over the processes with workers (the primary and each worker): the bound is per process.
    const rss = Number(/^gatehouse_process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1]);
    const workers = Number(/^gatehouse_workers (\d+)/m.exec(metrics)?.[1] ?? 0);
    const processes = workers > 0 ? workers + 1 : 1;
    expect(rss / processes).toBeLessThan(300 * 1024 * 1024);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
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
