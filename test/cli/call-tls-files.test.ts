/**
 * `gatehouse call`'s TLS files are checked before any connection: a --ca without a PEM
 * certificate (before: ignored, and the handshake failed with "self-signed certificate in
 * certificate chain"), a --cert or --key that does not parse, or a pair that does not belong
 * together are usage errors naming the flag and the file (exit 2).
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/tools.js';
import { run } from '../support/cli.js';
import { createCa, issueSvid, type Ca } from '../support/pki.js';
import { tempDir } from '../support/policy.js';

describe('gatehouse call: TLS files', () => {
  let ca: Ca;
  let client: { cert: string; key: string };
  let other: { cert: string; key: string };
  beforeAll(() => {
    const dir = tempDir('gatehouse-call-tls-');
    ca = createCa(dir, 'ca', 'mesh.local');
    client = issueSvid(dir, 'client', 'spiffe://mesh.local/ns/envoy/sa/proxy', ca);
    other = issueSvid(dir, 'other', 'spiffe://mesh.local/ns/envoy/sa/other', ca);
  });
  const call = (...args: string[]) => run('call', '--addr', '127.0.0.1:1', '--path', '/', ...args);
  const readme = path.join(ROOT, 'README.md');

  it('a --ca file with no PEM certificate', () => {
    const result = call('--ca', readme);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`gatehouse: --ca ${readme} holds no PEM certificate`);
  });

  it('a --cert that is not a certificate, a --key that is not a key', () => {
    const badCert = call('--ca', ca.cert, '--cert', client.key, '--key', client.key);
    expect(badCert.status).toBe(2);
    expect(badCert.stderr).toContain(`gatehouse: --cert ${client.key} is not a PEM certificate`);
    const badKey = call('--ca', ca.cert, '--cert', client.cert, '--key', client.cert);
    expect(badKey.status).toBe(2);
    expect(badKey.stderr).toContain(`gatehouse: --key ${client.cert} is not a PEM private key`);
  });

  it('a --key that is not the key of --cert', () => {
    const result = call('--ca', ca.cert, '--cert', client.cert, '--key', other.key);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`gatehouse: --key ${other.key} is not the private key of --cert ${client.cert}`);
  });

  it('good files get as far as connecting (nothing listens on port 1)', () => {
    const result = call('--ca', ca.cert, '--cert', client.cert, '--key', client.key);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('gatehouse call: no CheckResponse from 127.0.0.1:1: UNAVAILABLE');
  });
});
