/**
 * A builtin that exhausts the JavaScript stack (graphql-js on a 3000-deep query) ends the
 * evaluation as an error (deny, eval_error) instead of an undefined result that would let a deny
 * rule such as `deny if { some op in graphql.parse_query(q).Operations; ... }` fail open; the next
 * Check evaluates normally.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideRequestJson, loadOfflinePolicy, shorthandRequest } from '../../src/commands/common.js';
import { buildBundle } from '../../src/policy/build.js';
import { tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const POLICY = `package envoy.authz
default allow := false
deny if {
	some op in graphql.parse_query(input.parsed_body.q).Operations
	op.Operation == "mutation"
}
allow if not deny
`;

describe.skipIf(tool.skip)('stack exhaustion inside a builtin', () => {
  it('denies with eval_error, and the policy keeps working', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'p.rego'), POLICY);
    const out = path.join(tempDir(), 'b.tar.gz');
    buildBundle({ opa: tool.opa, policies: dir, out, entrypoint: 'envoy/authz/allow', log: () => undefined });
    const offline = await loadOfflinePolicy({ bundle: out }, '');
    const ask = (q: string) => decideRequestJson(offline, shorthandRequest({ method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ q }) }), 'request');

    const deep = `mutation { ${'a { '.repeat(3000)}b${' }'.repeat(3000)} }`;
    expect(ask(deep)).toMatchObject({ allowed: false, reasonLabel: 'eval_error' });
    expect(ask('query { a }')).toMatchObject({ allowed: true });
    expect(ask('mutation { a }')).toMatchObject({ allowed: false, reasonLabel: 'policy_denied' });
  });
});
