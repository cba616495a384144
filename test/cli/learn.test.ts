/**
 * `gatehouse learn` end to end, on decision logs a real `gatehouse serve` wrote while answering
 * real Checks (dry-run, the example policy): learn from one part of the traffic, build the learned
 * data with the example policy (real OPA via `gatehouse build`), then check on held-out traffic
 * with fresh ids that the learned allow-list allows all true traffic and nothing broader.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../support/app.js';
import { run, runWithStdin, startServe } from '../support/cli.js';
import { TestClient } from '../support/grpc-client.js';
import { BROADER_CALLS, CHECKOUT, GATEWAY, INVENTORY, ORDERS, SCANNER, scannerTraffic, trueEdgeKeys, trueTraffic, type Call } from '../support/learn-traffic.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { checkRequestJson } from '../support/requests.js';
import { ROOT, opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

/** Sends `calls` (50 at a time) and returns their decision ids. */
async function send(client: TestClient, calls: readonly Call[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < calls.length; i += 50) {
    const replies = await Promise.all(
      calls.slice(i, i + 50).map((c) => client.check(checkRequestJson({ source: c.source, destination: c.destination, method: c.method, path: c.path }))),
    );
    for (const reply of replies) ids.push(String(reply.metadata.decision_id));
  }
  return ids;
}

/** The lines of `log` whose decision ids are in `ids`. */
function linesOf(log: string, ids: readonly string[]): string {
  const wanted = new Set(ids);
  return `${log
    .split('\n')
    .filter((line) => line.trim() !== '' && wanted.has(JSON.parse(line).decision_id))
    .join('\n')}\n`;
}

function learnedEdgeKeys(data: any): string[] {
  const keys: string[] = [];
  for (const [destination, service] of Object.entries<any>(data.mesh.services)) {
    for (const rule of service.allow) {
      for (const caller of rule.callers) for (const method of rule.methods) for (const p of rule.exact_paths) keys.push(`${caller} ${destination} ${method} ${p}`);
      expect(rule.paths, 'learned rules are whole paths, never prefixes').toBeUndefined();
    }
  }
  return keys.sort();
}

describe.skipIf(tool.skip)('gatehouse learn on logs a real server wrote', () => {
  const dir = tempDir('gatehouse-learn-');
  const trainLog = path.join(dir, 'train.log');
  const heldLog = path.join(dir, 'held-out.log');
  const learnedDir = path.join(dir, 'learned');
  const learnedBundle = path.join(dir, 'learned.tar.gz');
  const heldTrue = trueTraffic(99, 150);
  const heldScanner = scannerTraffic(7);
  let summary: string;
  let data: any;

  beforeAll(async () => {
    const log = path.join(dir, 'decisions.log');
    const server = await startServe(buildExampleBundle(tool.opa, dir), ['--dry-run', '--decision-log', log]);
    const client = new TestClient(`127.0.0.1:${server.grpcPort}`);
    let trainIds: string[];
    let heldIds: string[];
    try {
      trainIds = await send(client, [...trueTraffic(1, 500), ...scannerTraffic(2)]);
      heldIds = await send(client, [...heldTrue, ...heldScanner]);
    } finally {
      client.close();
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
    const written = readFileSync(log, 'utf8');
    writeFileSync(trainLog, linesOf(written, trainIds));
    writeFileSync(heldLog, linesOf(written, heldIds));

    mkdirSync(learnedDir);
    const learned = run('learn', trainLog, '--out', path.join(learnedDir, 'data.json'));
    expect(learned.stderr).toBe('');
    expect(learned.status).toBe(0);
    summary = learned.stdout;
    data = JSON.parse(readFileSync(path.join(learnedDir, 'data.json'), 'utf8'));
    copyFileSync(path.join(ROOT, 'policies/authz.rego'), path.join(learnedDir, 'authz.rego'));
    const built = run('build', '--policies', learnedDir, '--out', learnedBundle, '--opa', tool.opa);
    expect(built.stderr).toContain('decision cache');
    expect(built.status).toBe(0);
  }, 120_000);

  it('learns exactly the true allow-list: every edge, templated, and no other', () => {
    expect(learnedEdgeKeys(data)).toEqual(trueEdgeKeys());
    const inventory = data.mesh.services[INVENTORY];
    expect(inventory.name).toBe('inventory');
    // Ids with a literal prefix and/or suffix: the narrowest template segment, not a bare {id} that would allow /api/v1/stock/admin or /anything.
    const stock = inventory.allow.find((r: any) => r.exact_paths.includes('/api/v1/stock/sku-{id}'));
    expect(stock.exact_paths).toContain('/api/v1/reports/report-{id}.pdf');
    const gateway = data.mesh.services[ORDERS].allow.find((r: any) => r.callers.includes(GATEWAY) && r.methods.includes('GET'));
    expect(gateway.exact_paths).toContain('/page{int}');
    expect(JSON.stringify(data)).not.toMatch(/"\/\{id\}"|\/stock\/\{id\}/);
    expect(stock.callers).toEqual([CHECKOUT]);
    expect(stock.learned.calls).toBeGreaterThan(10);
    // Dry-run with the example policy: it denied these reads of an unlisted service's paths... or allowed them; either way counted.
    expect(stock.learned.first_seen <= stock.learned.last_seen).toBe(true);
  });

  it('prints a review: sources, what would be allowed, variables, rare edges, policy denials, probes', () => {
    expect(summary).toMatch(/^learned from \d+ decision-log lines in 1 file, 20\d\d-/);
    expect(summary).toContain('dry-run: the log comes from a server with dry_run on');
    expect(summary).toMatch(/would allow \(17 edges, \d+ rules, 3 destinations\):/);
    expect(summary).toMatch(/orders {2}\/api\/v1\/orders\/\{int\} {2}\d+ distinct values/);
    expect(summary).toMatch(/seen fewer than 3 times[^\n]*\n(.*\n)*.*billing → orders {2}GET {5}\/api\/v1\/orders\/export {2}2×/);
    expect(summary).toContain('denied by the serving policy, let through by dry-run (the learned data allows them):');
    expect(summary).toContain(`callers that look like probes or scanners (not learned; --include-probes learns them):\n  ${SCANNER}: 22 requests; asked for 6 well-known scanner targets (/.env, /.git/config, /wp-login.php, ...); 22 distinct first path segments in 22 requests, 100% denied by the policy\n`);
    expect(summary).toMatch(/not learned: [^\n]*22 from callers that look like probes/);
    expect(summary).toContain(`wrote ${path.join(learnedDir, 'data.json')}`);
  });

  it("docs/learn.md's worked example is this test's real output (timestamps and example values aside)", () => {
    const doc = readFileSync(path.join(ROOT, 'docs/learn.md'), 'utf8');
    const shown = doc.match(/```\n\$ npx gatehouse learn decisions-train\.log --out learned\/data\.json\n([^]*?)```/)?.[1];
    expect(shown, 'the worked example in docs/learn.md').toBeDefined();
    // Timestamps are the run's; the first few values of a variable depend on the order the server wrote the lines in.
    const normalise = (text: string) => text.replace(/20\d\d-\d\d-\d\dT[\d:.]+Z/g, 'TIME').replace(/e\.g\. .*$/gm, 'e.g. ...');
    expect(normalise(summary.replaceAll(`${learnedDir}/`, 'learned/'))).toBe(normalise(shown!));
    // The bundle revision is a hash of the learned files (timestamps included): the page must not show one as if it were reproducible.
    expect(doc).not.toMatch(/revision sha256:[0-9a-f]{8,}/);
  });

  it('replay of held-out logs (fresh ids) against the learned bundle: only the scanner would be denied', () => {
    const result = run('replay', '--bundle', learnedBundle, '--baseline', 'enforced', '--show', '0', heldLog);
    expect(result.stdout).toContain(`allow→deny by caller:\n  ${String(heldScanner.length).padStart(6)}  ${SCANNER}\n`);
    expect(result.stdout).toMatch(new RegExp(`unchanged: ${heldTrue.length}   allow→deny: ${heldScanner.length}   deny→allow: 0`));
    expect(result.status).toBe(1);
    // Measured against the policy's logged outcome instead, the calls the example policy denied are deny→allow flips.
    const againstPolicy = run('replay', '--bundle', learnedBundle, '--show', '0', heldLog);
    expect(againstPolicy.stdout).toMatch(/deny→allow: [1-9]\d*/);
  });

  it('allows every held-out true call and denies every broader one (decision tables through the learned bundle)', () => {
    const cases = [
      ...heldTrue.map((c, i) => ({ name: `true ${i}: ${c.method} ${c.path}`, ...shorthand(c), expect: { allowed: true } })),
      ...BROADER_CALLS.map((c, i) => ({ name: `broader ${i}: ${c.source} ${c.method} ${c.path}`, ...shorthand(c), expect: { allowed: false } })),
    ];
    const table = path.join(dir, 'learned-table.yaml');
    writeFileSync(table, JSON.stringify({ cases }));
    const result = run('test', '--bundle', learnedBundle, table);
    expect(result.stdout).toContain(`decision tables: ${cases.length} passed, 0 failed`);
    expect(result.status).toBe(0);
  });

  it('--out - writes the data to standard output and the review to standard error; the same data', () => {
    const result = runWithStdin(readFileSync(trainLog, 'utf8'), 'learn', '-', '--out', '-');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(data);
    expect(result.stderr).toContain('wrote standard output');
  });

  it('reads gzipped (rotated) logs as they are; a corrupt one is a usage error naming it', () => {
    const gz = path.join(dir, 'train.log.gz');
    writeFileSync(gz, gzipSync(readFileSync(trainLog)));
    const out = path.join(dir, 'from-gz.json');
    expect(run('learn', gz, '--out', out).status).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(data);
    const corrupt = path.join(dir, 'corrupt.log.gz');
    writeFileSync(corrupt, gzipSync(readFileSync(trainLog)).subarray(0, 2000));
    const result = run('learn', corrupt);
    expect(result.stderr).toContain(`gatehouse: cannot read ${corrupt}: unexpected end of file`);
    expect(result.status).toBe(2);
  });

  it('--include-probes learns the scanner too; --min-count leaves rare edges out', () => {
    const out = path.join(dir, 'with-probes.json');
    expect(run('learn', trainLog, '--include-probes', '--out', out).status).toBe(0);
    expect(JSON.stringify(JSON.parse(readFileSync(out, 'utf8')))).toContain(SCANNER);
    const rare = path.join(dir, 'min-count.json');
    const result = run('learn', trainLog, '--min-count', '3', '--out', rare);
    expect(result.stdout).toContain('(left out: --min-count)');
    expect(readFileSync(rare, 'utf8')).not.toContain('/api/v1/orders/export');
  });
});

function shorthand(c: Call) {
  return { source: c.source, destination: c.destination, method: c.method, path: c.path };
}

describe.skipIf(tool.skip)('learn and replay print log values escaped', () => {
  it('a server without request hygiene logs an escape sequence, a newline and a bidi override in paths: learn and replay print them as \\u escapes, no raw control character, no forged line', async () => {
    const dir = tempDir('gatehouse-learn-escape-');
    const log = path.join(dir, 'decisions.log');
    const bundle = buildExampleBundle(tool.opa, dir);
    const server = await startServe(bundle, ['--dry-run', '--request-hygiene', 'compatible', '--decision-log', log]);
    const client = new TestClient(`127.0.0.1:${server.grpcPort}`);
    try {
      const paths = ['/x/%1B%5B31mRED%1B%5B0m', '/y/a%0A      GET     forged  999x', '/z/%E2%80%AEtxt.exe'];
      await send(
        client,
        paths.map((p) => ({ source: CHECKOUT, destination: INVENTORY, method: 'GET', path: p })),
      );
    } finally {
      client.close();
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
    const learned = run('learn', log);
    const replayed = run('replay', '--bundle', bundle, '--baseline', 'enforced', log);
    expect(learned.status).toBe(0);
    expect(replayed.stdout).toContain('allow→deny: 3');
    for (const text of [learned.stdout, replayed.stdout]) {
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
      expect(text).not.toMatch(/^ *GET +forged/m);
    }
    expect(learned.stdout).toContain('GET     /x/\\u001b[31mRED\\u001b[0m  1×');
    expect(learned.stdout).toContain('/y/a\\u000a      GET     forged  999x');
    expect(learned.stdout).toContain('/z/\\u202etxt.exe');
    // The example policy's deny reason quotes the decoded path.
    expect(replayed.stdout).toContain('may not GET /x/\\u001b[31mRED\\u001b[0m on inventory');
  }, 60_000);
});

describe.skipIf(tool.skip)('gatehouse learn: masked values never reach the output', () => {
  it('a masked path segment sets the call aside; nothing masked or secret is written or printed', async () => {
    const dir = tempDir('gatehouse-learn-mask-');
    const log = path.join(dir, 'decisions.log');
    const server = await startServe(buildExampleBundle(tool.opa, dir), ['--dry-run', '--decision-log', log, '--decision-log-mask', '/input/parsed_path/3']);
    const client = new TestClient(`127.0.0.1:${server.grpcPort}`);
    try {
      const calls: Call[] = [];
      for (let i = 0; i < 12; i++) calls.push({ source: CHECKOUT, destination: INVENTORY, method: 'GET', path: `/api/v1/users/secret-${i}-token` });
      for (let i = 0; i < 3; i++) calls.push({ source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock' });
      await send(client, calls);
    } finally {
      client.close();
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
    expect(readFileSync(log, 'utf8')).toContain('"[masked]"');
    const out = path.join(dir, 'data.json');
    const result = run('learn', log, '--out', out);
    expect(result.status).toBe(0);
    const written = readFileSync(out, 'utf8');
    for (const text of [written, result.stdout]) {
      expect(text).not.toContain('secret-');
      expect(text).not.toContain('[masked]');
    }
    expect(learnedEdgeKeys(JSON.parse(written))).toEqual([`${CHECKOUT} ${INVENTORY} GET /api/v1/stock`]);
    expect(result.stdout).toContain('12 with masked caller, destination, method or path (decision_log_mask; never learned; masked: a segment of input.parsed_path 12)');
    expect(result.stdout).toContain('(data.mesh.services, 1 rule);');
  }, 60_000);
});

describe.skipIf(tool.skip)('gatehouse learn on an enforcing server\'s log', () => {
  it('learns what the policy allowed; enforced denials are listed, not learned', async () => {
    const dir = tempDir('gatehouse-learn-enforcing-');
    const log = path.join(dir, 'decisions.log');
    const server = await startServe(buildExampleBundle(tool.opa, dir), ['--decision-log', log]);
    const client = new TestClient(`127.0.0.1:${server.grpcPort}`);
    const PAYMENTS = 'spiffe://mesh.local/ns/shop/sa/payments';
    try {
      const calls: Call[] = Array.from({ length: 12 }, (_, i) => ({ source: CHECKOUT, destination: INVENTORY, method: 'GET', path: `/api/v1/stock/${1000 + i}` }));
      calls.push(...Array.from({ length: 4 }, () => ({ source: CHECKOUT, destination: PAYMENTS, method: 'GET', path: '/api/v1/charges' })));
      calls.push({ source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock/a%2Fb' });
      const ids = await send(client, calls);
      expect(ids).toHaveLength(17);
    } finally {
      client.close();
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
    const out = path.join(dir, 'data.json');
    const result = run('learn', log, '--out', out);
    expect(result.status).toBe(0);
    expect(learnedEdgeKeys(JSON.parse(readFileSync(out, 'utf8')))).toEqual([`${CHECKOUT} ${INVENTORY} GET /api/v1/stock/{int}`]);
    expect(result.stdout).toMatch(/not learned: 4 denied by the policy and enforced; 1 refused before the policy \(request_refused 1\)/);
    expect(result.stdout).toContain(`denied and enforced (not learned; allow them by hand if they are wanted):\n        4  ${CHECKOUT} → ${PAYMENTS}`);
    expect(result.stdout).not.toContain('dry-run');
  }, 60_000);
});

describe.skipIf(tool.skip)('gatehouse learn: sampled allows', () => {
  it('lines of a server sampling allows say so, and the review warns that counts are a share', async () => {
    const dir = tempDir('gatehouse-learn-sample-');
    // 100 would log every allow; 99 samples (almost all) and marks every line.
    const t = await startTestApp({ bundle: buildExampleBundle(tool.opa, dir), 'decision-log-allow-sample-percent': '99', 'dry-run': 'true' });
    try {
      await send(t.client, [{ source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/api/v1/stock' }, { source: CHECKOUT, destination: INVENTORY, method: 'GET', path: '/nope' }]);
    } finally {
      await t.stop();
    }
    expect(t.decisions.map((d) => d.gatehouse.allow_sample_percent)).toContain(99);
    const log = path.join(dir, 'decisions.log');
    writeFileSync(log, t.decisions.map((d) => JSON.stringify(d)).join('\n'));
    const result = run('learn', log);
    expect(result.stdout).toContain('sampling: allow lines were logged at 99% (decision_log_allow_sample_percent)');
    expect(run('learn', trainLogWithoutSampling(dir)).stdout).not.toContain('sampling:');
  });
});

/** A one-line log from a server logging every allow. */
function trainLogWithoutSampling(dir: string): string {
  const file = path.join(dir, 'unsampled.log');
  writeFileSync(
    file,
    JSON.stringify({
      input: { parsed_path: ['a'], attributes: { request: { http: { method: 'GET', path: '/a' } } }, identity: { source: { valid: true, spiffe_id: CHECKOUT }, destination: { valid: true, spiffe_id: INVENTORY } } },
      gatehouse: { outcome: 'allow', reason_code: 'policy_allowed' },
    }),
  );
  return file;
}

describe('gatehouse learn: bad input', () => {
  it('an unreadable file, a directory, an empty log, a log without decision lines: exit 2 with the reason, no stack trace', () => {
    const dir = tempDir('gatehouse-learn-bad-');
    const empty = path.join(dir, 'empty.log');
    writeFileSync(empty, '\n\n');
    const junk = path.join(dir, 'junk.log');
    writeFileSync(junk, 'not json\n{"msg":"gatehouse is serving","level":30}\n[1,2]\nnull\n');
    const cases: [string[], string][] = [
      [[path.join(dir, 'missing.log')], `gatehouse: cannot read ${path.join(dir, 'missing.log')}: ENOENT`],
      [[dir], `gatehouse: cannot read ${dir}: is a directory`],
      [[empty], `gatehouse: no decision-log lines in ${empty}: the logs are empty`],
      [[junk], `gatehouse: none of the 4 lines in ${junk} is a decision-log line with an input (first: ${junk}:1, ${junk}:2, ${junk}:3); is this a gatehouse decision log`],
      [[empty, '--min-distinct', 'x'], 'gatehouse: --min-distinct must be a whole number of at least 2, got "x"'],
    ];
    for (const [args, message] of cases) {
      const result = run('learn', ...args);
      expect(result.stderr, args.join(' ')).toContain(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.status).toBe(2);
    }
    expect(run('learn').stderr).toContain("missing required argument 'DECISIONS.log'");
  });

  it('--out into a folder that does not exist yet makes it, as the README and help write the command (learn ... --out learned/data.json)', () => {
    const dir = tempDir('gatehouse-learn-outdir-');
    const out = path.join(dir, 'learned', 'deeper', 'data.json');
    const result = run('learn', trainLogWithoutSampling(dir), '--out', out);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).mesh.services[INVENTORY].allow[0].exact_paths).toEqual(['/a']);
    // A file where the folder should be is still a usage error naming --out.
    const blocked = run('learn', trainLogWithoutSampling(dir), '--out', path.join(out, 'data.json'));
    expect(blocked.stderr).toContain(`gatehouse: --out ${path.join(out, 'data.json')} cannot be written`);
    expect(blocked.status).toBe(2);
  });

  it('help learn is learn --help and names every flag; replay refuses an unknown --baseline', () => {
    const help = run('help', 'learn');
    expect(help.status).toBe(0);
    expect(help.stdout).toBe(run('learn', '--help').stdout);
    expect(help.stdout).toMatch(/^Usage: gatehouse learn DECISIONS\.log\.\.\. \[--out FILE\]/);
    for (const flag of ['--out', '--min-count', '--rare', '--min-distinct', '--probe-paths', '--include-probes', '--show']) expect(help.stdout).toContain(flag);
    expect(run('help').stdout).toMatch(/^  gatehouse learn DECISIONS\.log\.\.\. \[--out FILE\] +learn a least-privilege allow-list/m);
    // The example replays held-out dry-run logs against what was enforced, as docs/learn.md does: without
    // --baseline enforced a call both the old and the learned policy deny would be hidden as "unchanged".
    expect(help.stdout).toContain('gatehouse replay --bundle build/learned.tar.gz --baseline enforced held-out-decisions.log');
    const replay = run('replay', '--bundle', 'x.tar.gz', '--baseline', 'outcome', 'x.log');
    expect(replay.stderr).toContain('--baseline must be policy or enforced, got "outcome"');
    expect(replay.status).toBe(2);
  });

  it('non-JSON lines among decision lines are counted and named, the rest learned', () => {
    const dir = tempDir('gatehouse-learn-mixed-');
    const log = path.join(dir, 'mixed.log');
    const line = (p: string[]) =>
      JSON.stringify({
        decision_id: 'd',
        timestamp: '2026-11-20T10:00:00.000Z',
        input: { attributes: { request: { http: { method: 'GET', path: `/${p.join('/')}` } } }, parsed_path: p, identity: { source: { valid: true, spiffe_id: CHECKOUT }, destination: { valid: true, spiffe_id: INVENTORY } } },
        gatehouse: { outcome: 'allow', reason_code: 'policy_allowed' },
      });
    writeFileSync(log, `${line(['a'])}\n{truncated\n${line(['b'])}\n`);
    const result = run('learn', log);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('learned from 2 decision-log lines in 1 file, 2026-11-20T10:00:00Z to 2026-11-20T10:00:00Z');
    expect(result.stdout).toContain(`skipped: 1 line that is not a decision-log line (first: ${log}:2)`);
    expect(result.stdout).toContain('would allow (2 edges, 1 rule, 1 destination):');
    expect(result.stdout).toContain('GET     /a  1×');
    expect(result.stdout).toContain('no --out: nothing written');
  });
});
