/**
 * The request shorthand (decision tables' headers:, gatehouse call's -H) builds the request as
 * Envoy sends it: Envoy fills attributes.request.http.host from the :authority (Host) header, and
 * policies written for opa-envoy-plugin read `input.attributes.request.http.host`. Before, a table
 * with `headers: { ":authority": ... }` left host empty, so such a policy denied what production
 * allows.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { shorthandRequest } from '../../src/commands/common.js';
import { run } from '../support/cli.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

describe('request shorthand: host', () => {
  it('host is the :authority header, else the host header, as Envoy sets it', () => {
    expect(shorthandRequest({ path: '/', headers: { ':authority': 'inventory.shop.svc' } }).attributes.request.http.host).toBe('inventory.shop.svc');
    expect(shorthandRequest({ path: '/', headers: { Host: 'inventory.shop.svc:8080' } }).attributes.request.http.host).toBe('inventory.shop.svc:8080');
    expect(shorthandRequest({ path: '/' }).attributes.request.http).not.toHaveProperty('host');
  });

  describe.skipIf(tool.skip)('a policy reading input.attributes.request.http.host', () => {
    let bundle: string;
    let dir: string;
    beforeAll(() => {
      dir = tempDir('gatehouse-host-');
      bundle = buildBundle(tool.opa, { 'p.rego': 'package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.host == "inventory.shop.svc"\n' }, path.join(dir, 'host.tar.gz'));
    });

    it('gatehouse test: a case with an :authority header is allowed', () => {
      const table = path.join(dir, 'host.yaml');
      writeFileSync(table, 'cases:\n  - name: by authority\n    path: /\n    headers: { ":authority": inventory.shop.svc }\n    expect: { allowed: true }\n');
      const result = run('test', '--bundle', bundle, table);
      expect(result.stdout).toContain('decision tables: 1 passed, 0 failed');
      expect(result.status).toBe(0);
    });
  });
});
