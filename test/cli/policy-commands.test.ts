/** `gatehouse test` (decision tables) and `gatehouse replay` (decision logs against a new bundle). */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp } from '../support/app.js';
import { run } from '../support/cli.js';
import { buildBundle, buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, INVENTORY, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { ROOT, opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

describe.skipIf(tool.skip)('gatehouse test: decision tables', () => {
  let bundle: string;
  beforeAll(() => {
    bundle = buildExampleBundle(tool.opa, tempDir());
  });

  it('passes the example table', () => {
    const result = run('test', '--bundle', bundle, 'decisions/mesh.yaml');
    expect(result.stdout).toContain('decision tables: 8 passed, 0 failed');
    expect(result.status).toBe(0);
  });

  it('reports each failed expectation and exits 1', () => {
    const table = path.join(tempDir(), 'wrong.yaml');
    writeFileSync(
      table,
      `cases:
  - name: wrong on purpose
    source: ${PAYMENTS}
    destination: ${INVENTORY}
    path: /api/v1/stock/sku-1
    expect: { allowed: true, http_status: 200, headers: { x-gatehouse-rule: nope } }
`,
    );
    const result = run('test', '--bundle', bundle, table);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('FAIL');
    expect(result.stdout).toContain(`expected allow, got deny (policy_denied: ${PAYMENTS} may not call inventory)`);
    expect(result.stdout).toContain('expected http_status 200, got 403');
    expect(result.stdout).toContain('expected header x-gatehouse-rule: "nope", got none');
    expect(result.stdout).toContain('decision tables: 0 passed, 1 failed');
  });

  it('rejects a malformed table with a clear message', () => {
    const table = path.join(tempDir(), 'bad.yaml');
    writeFileSync(table, 'cases:\n  - name: x\n    path: /\n    expect: { alowed: true }\n');
    const result = run('test', '--bundle', bundle, table);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('bad.yaml:4: case 1 ("x"), expect: unknown key "alowed"; did you mean "allowed"?');
  });
});

describe.skipIf(tool.skip)('gatehouse replay', () => {
  let dir: string;
  let log: string;
  beforeAll(async () => {
    dir = tempDir();
    const t = await startTestApp({ bundle: buildExampleBundle(tool.opa, dir) });
    try {
      for (let i = 0; i < 3; i++) await t.client.check(checkRequestJson({ source: CHECKOUT, path: `/api/v1/stock/sku-${i}` }));
      await t.client.check(checkRequestJson({ source: PAYMENTS }));
      await t.client.check(checkRequestJson({ source: CHECKOUT, path: 'relative' })); // no input: skipped
      await eventually(() => t.decisions.length === 5);
      log = path.join(dir, 'decisions.log');
      writeFileSync(log, `${t.decisions.map((d) => JSON.stringify(d)).join('\n')}\nnot json\n`);
    } finally {
      await t.stop();
    }
  });

  it('reports no flips for the same policy', () => {
    const result = run('replay', '--bundle', buildExampleBundle(tool.opa, tempDir()), log);
    expect(result.stdout).toContain('unchanged: 4   allow→deny: 0   deny→allow: 0   skipped (no input, or not a decision-log line): 2');
    expect(result.stdout).toContain('OK: flips within the thresholds');
    expect(result.status).toBe(0);
  });

  it('groups flips by caller and request and gates on the thresholds', () => {
    // The candidate takes stock reads away from checkout and lets payments in.
    const data = JSON.parse(readFileSync(path.join(ROOT, 'policies/data.json'), 'utf8'));
    const rules = data.mesh.services[INVENTORY].allow as { callers: string[] }[];
    rules[0]!.callers = [PAYMENTS];
    const candidate = buildBundle(
      tool.opa,
      { 'authz.rego': readFileSync(path.join(ROOT, 'policies/authz.rego'), 'utf8'), 'data.json': JSON.stringify(data) },
      path.join(dir, 'candidate.tar.gz'),
    );
    const result = run('replay', '--bundle', candidate, log);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('unchanged: 0   allow→deny: 3   deny→allow: 1');
    expect(result.stdout).toMatch(new RegExp(`allow→deny by caller:\\n\\s+3  ${CHECKOUT}`));
    expect(result.stdout).toMatch(/allow→deny by request:\n\s+1  GET \/api\/v1\/stock\/sku-\d/);
    expect(result.stdout).toContain('FAIL: 3 allow→deny flips exceed --max-allow-to-deny 0; 1 deny→allow flips exceed --max-deny-to-allow 0');
    const tolerant = run('replay', '--bundle', candidate, '--max-allow-to-deny', '3', '--max-deny-to-allow', '1', log);
    expect(tolerant.status).toBe(0);
  });
});
