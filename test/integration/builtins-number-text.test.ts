/**
 * Builtins whose result depends on how a number was written get its text (HostBuiltin.fnText):
 * sprintf passes `10.00` as a float64, `1e3` as text and `3` as an int64, exactly as OPA does.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideRequestJson, loadOfflinePolicy, shorthandRequest } from '../../src/commands/common.js';
import { buildBundle } from '../../src/policy/build.js';
import { tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const POLICY = `package envoy.authz
allow := {"allowed": true, "reason": sprintf("%.2f|%v|%v|%d|%v|%v", [10.00, 1.0, 1e3, 3, 2e308, 0.5])}
`;

describe.skipIf(tool.skip)('numbers as written', () => {
  it('sprintf formats constants as opa eval does', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'p.rego'), POLICY);
    const out = path.join(tempDir(), 'b.tar.gz');
    buildBundle({ opa: tool.opa, policies: dir, out, entrypoint: 'envoy/authz/allow', log: () => undefined });
    const offline = await loadOfflinePolicy({ bundle: out }, '');
    const outcome = decideRequestJson(offline, shorthandRequest({ path: '/' }), 'request');
    const expected = execFileSync(tool.opa, ['eval', '--format', 'raw', '-d', path.join(dir, 'p.rego'), 'data.envoy.authz.allow.reason'], { encoding: 'utf8' }).trim();
    expect(expected.startsWith('10.00|')).toBe(true);
    expect(outcome.reason).toBe(expected);
  });
});
