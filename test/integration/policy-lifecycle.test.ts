/**
 * Where bundles come from and how they are rolled out: an HTTP bundle server (ETag, failures,
 * hostile downloads), replay protection, dry-run, and a shadow candidate. Real servers, real
 * bundles compiled by OPA.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const policy = (rego: string) => ({ 'p.rego': `package envoy.authz\n\n${rego}\n` });

/** A bundle server whose answer each test controls. */
class BundleServer {
  readonly requests: { etag: string | undefined; authorization: string | undefined; atMs: number }[] = [];
  handler: (res: import('node:http').ServerResponse, etag: string | undefined) => void = (res) => res.writeHead(404).end();
  readonly #server: Server = createServer((req, res) => {
    const etag = req.headers['if-none-match'];
    this.requests.push({ etag, authorization: req.headers.authorization, atMs: performance.now() });
    this.handler(res, etag);
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/bundles/authz.tar.gz`;
  }

  serve(bytes: Buffer, etag: string): void {
    this.handler = (res, ifNoneMatch) => {
      if (ifNoneMatch === etag) res.writeHead(304).end();
      else res.writeHead(200, { etag, 'content-type': 'application/gzip' }).end(bytes);
    };
  }

  stop(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const fast = { 'bundle-poll-min-ms': '100', 'bundle-poll-max-ms': '150', 'bundle-fetch-timeout-ms': '500' };

describe.skipIf(tool.skip)('bundles from an HTTP bundle server', () => {
  let dir: string;
  let example: Buffer;
  let allowAll: Buffer;
  let t: TestApp | undefined;
  let server: BundleServer;
  beforeAll(() => {
    dir = tempDir();
    example = readFileSync(buildExampleBundle(tool.opa, dir));
    allowAll = readFileSync(buildBundle(tool.opa, policy('allow := true'), path.join(dir, 'allow-all.tar.gz')));
  });
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    await server?.stop();
  });

  const start = async (extra: Record<string, string> = {}) => {
    server = new BundleServer();
    await server.start();
    return { server, ...extra };
  };

  it('loads, polls with If-None-Match and a bearer token, and picks up a new bundle', async () => {
    await start();
    server.serve(example, '"v1"');
    t = await startTestApp({ bundle: server.url, 'bundle-bearer-token': 's3cret', ...fast });
    expect((await t.client.check(checkRequestJson({ source: PAYMENTS }))).allowed).toBe(false);
    await eventually(() => server.requests.some((r) => r.etag === '"v1"'));
    expect(server.requests.every((r) => r.authorization === 'Bearer s3cret')).toBe(true);
    server.serve(allowAll, '"v2"');
    await eventually(async () => (await t!.client.check(checkRequestJson({ source: PAYMENTS }))).allowed);
  });

  it.each([
    ['a 500', (res: import('node:http').ServerResponse) => res.writeHead(500).end('boom'), 'bundle_read_error'],
    ['garbage', (res: import('node:http').ServerResponse) => res.writeHead(200, { etag: '"g"' }).end('not a bundle'), 'bundle_invalid'],
    ['a gzip bomb', (res: import('node:http').ServerResponse) => res.writeHead(200, { etag: '"b"' }).end(gzipSync(Buffer.alloc(50 * 1024 * 1024))), 'bundle_invalid'],
    ['an oversized download', (res: import('node:http').ServerResponse) => res.writeHead(200, { etag: '"o"' }).end(Buffer.alloc(3 * 1024 * 1024)), 'bundle_invalid'],
    ['a server that hangs', (_res: import('node:http').ServerResponse) => undefined, 'bundle_read_error'],
  ])('keeps the last good bundle when the server sends %s', async (_name, handler, code) => {
    await start();
    server.serve(example, '"v1"');
    t = await startTestApp({ bundle: server.url, 'max-bundle-bytes': String(2 * 1024 * 1024), ...fast });
    const revision = JSON.parse((await t.admin('/readyz')).text).policy.revision;
    server.handler = handler;
    await eventually(() => t!.logs.some((l) => l.code === code), 15_000);
    const ready = JSON.parse((await t.admin('/readyz')).text);
    expect(ready).toMatchObject({ ready: true, policy: { revision }, last_reload_error: { code } });
    expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    expect((await t.admin('/metrics')).text).toMatch(/gatehouse_policy_reloads_total\{result="failed"\} [1-9]/);
  });

  it('backs off from a failing server, and denies meanwhile', async () => {
    await start();
    server.handler = (res) => res.writeHead(503).end();
    t = await startTestApp({ bundle: server.url, ...fast });
    await eventually(() => server.requests.length >= 4);
    // Waits are 100-150 ms doubled per failure (pollDelayMs): each gap is longer than the last,
    // by a margin (>= 50 ms) no scheduling noise closes; without backoff they would not grow.
    const at = server.requests.map((r) => r.atMs);
    const gaps = [at[2]! - at[1]!, at[3]! - at[2]!];
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[0]!).toBeGreaterThan(at[1]! - at[0]!);
    const denied = await t.client.check(checkRequestJson({ source: CHECKOUT }));
    expect(denied).toMatchObject({ allowed: false, httpStatus: 503 });
  });
});

describe.skipIf(tool.skip)('replay protection', () => {
  it('refuses a bundle whose revision is older than the active one', async () => {
    const dir = tempDir();
    const bundle = path.join(dir, 'bundle.tar.gz');
    buildBundle(tool.opa, policy('allow := true'), bundle, { revision: '2' });
    const t = await startTestApp({ bundle, 'bundle-require-newer-revision': 'true' });
    try {
      buildBundle(tool.opa, policy('allow := false'), path.join(dir, 'old.tar.gz'), { revision: '1' });
      const { renameSync } = await import('node:fs');
      renameSync(path.join(dir, 'old.tar.gz'), bundle);
      await eventually(() => t.logs.some((l) => l.code === 'bundle_invalid' && String(l.error).includes('older than the active revision "2"')));
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
      buildBundle(tool.opa, policy('allow := false'), path.join(dir, 'new.tar.gz'), { revision: '10' });
      renameSync(path.join(dir, 'new.tar.gz'), bundle);
      await eventually(async () => !(await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed);
    } finally {
      await t.stop();
    }
  });
});

describe.skipIf(tool.skip)('replay protection across restarts', () => {
  it('refuses, after a restart, a bundle older than the last one activated (bundle_state_file)', async () => {
    const dir = tempDir();
    const bundle = path.join(dir, 'bundle.tar.gz');
    const state = path.join(dir, 'revision.json');
    const flags = { bundle, 'bundle-require-newer-revision': 'true', 'bundle-state-file': state };
    buildBundle(tool.opa, policy('allow := true'), bundle, { revision: '5' });
    const first = await startTestApp(flags);
    expect((await first.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    await first.stop();
    expect(JSON.parse(readFileSync(state, 'utf8')).revision).toBe('5');

    // The same bundle after a restart is fine.
    const same = await startTestApp(flags);
    expect((await same.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    await same.stop();

    // An older one (a replayed, perhaps validly signed, bundle) is refused: no policy, 503.
    buildBundle(tool.opa, policy('allow := true'), bundle, { revision: '4' });
    const replayed = await startTestApp(flags);
    try {
      expect(await replayed.client.check(checkRequestJson({ source: CHECKOUT }))).toMatchObject({ allowed: false, httpStatus: 503 });
      expect(replayed.logs.some((l) => String(l.error).includes('older than the last revision activated (bundle_state_file) "5"'))).toBe(true);
    } finally {
      await replayed.stop();
    }
  });
});

describe.skipIf(tool.skip)('dry-run and shadow candidates', () => {
  it('dry-run answers allow but logs and counts the deny the policy made', async () => {
    const dir = tempDir();
    const t = await startTestApp({ bundle: buildExampleBundle(tool.opa, dir), 'dry-run': 'true' });
    try {
      const reply = await t.client.check(checkRequestJson({ source: PAYMENTS }));
      expect(reply).toMatchObject({ allowed: true, metadata: { dry_run: true, reason_code: 'policy_denied' } });
      await eventually(() => t.decisions.length > 0);
      expect(t.decisions[0]!.gatehouse).toMatchObject({ outcome: 'deny', dry_run: true, enforced: 'allow' });
      expect((await t.admin('/metrics')).text).toMatch(/gatehouse_dry_run_overrides_total 1/);
    } finally {
      await t.stop();
    }
  });

  it('evaluates the candidate after the response and counts and logs divergences', async () => {
    const dir = tempDir();
    const candidate = buildBundle(tool.opa, policy('allow := input.attributes.request.http.method == "GET"'), path.join(dir, 'candidate.tar.gz'));
    const t = await startTestApp({ bundle: buildExampleBundle(tool.opa, dir), 'candidate-bundle': candidate });
    try {
      const allowedBoth = await t.client.check(checkRequestJson({ source: CHECKOUT, method: 'GET' }));
      const deniedByCandidate = await t.client.check(checkRequestJson({ source: CHECKOUT, method: 'POST', path: '/api/v1/reservations' }));
      const allowedByCandidate = await t.client.check(checkRequestJson({ source: PAYMENTS, method: 'GET' }));
      // The active policy decides every answer.
      expect([allowedBoth.allowed, deniedByCandidate.allowed, allowedByCandidate.allowed]).toEqual([true, true, false]);
      await eventually(() => t.decisions.length === 3);
      const comparison = (id: unknown) => t.decisions.find((d) => d.decision_id === id)!.gatehouse.shadow.comparison;
      expect(comparison(allowedBoth.metadata.decision_id)).toBe('agree');
      expect(comparison(deniedByCandidate.metadata.decision_id)).toBe('allow_to_deny');
      expect(comparison(allowedByCandidate.metadata.decision_id)).toBe('deny_to_allow');
      const metrics = (await t.admin('/metrics')).text;
      expect(metrics).toContain('gatehouse_shadow_evaluations_total{result="agree"} 1');
      expect(metrics).toContain('gatehouse_shadow_evaluations_total{result="allow_to_deny"} 1');
      expect(metrics).toContain('gatehouse_shadow_evaluations_total{result="deny_to_allow"} 1');
      const divergence = t.logs.find((l) => l.msg === 'shadow candidate disagrees with the active policy' && l.comparison === 'allow_to_deny');
      expect(divergence).toMatchObject({ source: CHECKOUT, method: 'POST', path: '/api/v1/reservations', active: { outcome: 'allow' }, candidate: { outcome: 'deny' } });
    } finally {
      await t.stop();
    }
  });
});

describe.skipIf(tool.skip)('signed bundles', () => {
  /** An ES256 key pair and a bundle signed with it whose policy allows everyone (data.open). */
  async function signedBundle(dir: string): Promise<{ bundle: string; publicKey: string }> {
    const { execFileSync } = await import('node:child_process');
    const { mkdirSync, writeFileSync: write } = await import('node:fs');
    const { buildBundle: buildSigned } = await import('../../src/policy/build.js');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path.join(dir, 'key.pem')], { stdio: 'ignore' });
    execFileSync('openssl', ['pkey', '-in', path.join(dir, 'key.pem'), '-pubout', '-out', path.join(dir, 'pub.pem')], { stdio: 'ignore' });
    const src = path.join(dir, 'src');
    mkdirSync(src);
    write(path.join(src, 'p.rego'), 'package envoy.authz\n\nallow := data.open\n');
    write(path.join(src, 'data.json'), '{"open": true}');
    const signing = { keyId: 'default', privateKeyPem: readFileSync(path.join(dir, 'key.pem'), 'utf8'), algorithm: 'ES256' as const };
    const bundle = path.join(dir, 'signed.tar.gz');
    buildSigned({ opa: tool.opa, policies: src, out: bundle, entrypoint: 'envoy/authz/allow', signing, log: () => undefined });
    return { bundle, publicKey: path.join(dir, 'pub.pem') };
  }

  it('serves a bundle signed by gatehouse build, and rejects unsigned and tampered ones', async () => {
    const { renameSync, writeFileSync: write } = await import('node:fs');
    const { gunzipSync } = await import('node:zlib');
    const { appendToTar, readTar, tarEntry } = await import('../../src/policy/tar.js');
    const dir = tempDir();
    const signed = await signedBundle(dir);
    const bundle = path.join(dir, 'bundle.tar.gz');
    renameSync(signed.bundle, bundle);

    const t = await startTestApp({ bundle, 'bundle-verification-key-file': signed.publicKey, 'bundle-verification-algorithm': 'ES256' });
    try {
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);

      // Tampered: data.json changed after signing (open: false would deny everyone).
      const files = readTar(gunzipSync(readFileSync(bundle)));
      let tampered = Buffer.alloc(0);
      for (const [name, bytes] of files) tampered = appendToTar(tampered, tarEntry(`/${name}`, name === 'data.json' ? Buffer.from('{"open": false}') : bytes));
      write(path.join(dir, 'next.tar.gz'), gzipSync(tampered));
      renameSync(path.join(dir, 'next.tar.gz'), bundle);
      await eventually(() => t.logs.some((l) => String(l.error).includes('file "data.json" was modified after signing')));
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);

      // Unsigned.
      buildBundle(tool.opa, { 'p.rego': 'package envoy.authz\n\nallow := false\n' }, path.join(dir, 'unsigned.tar.gz'));
      renameSync(path.join(dir, 'unsigned.tar.gz'), bundle);
      await eventually(() => t.logs.some((l) => String(l.error).includes('no .signatures.json')));
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    } finally {
      await t.stop();
    }
  });

  it('without a verification key, refuses a signed bundle (the previous one keeps serving) and says how to configure the key', async () => {
    const { renameSync } = await import('node:fs');
    const dir = tempDir();
    const signed = await signedBundle(dir);
    const bundle = path.join(dir, 'bundle.tar.gz');
    buildBundle(tool.opa, policy('allow := false'), bundle);
    const t = await startTestApp({ bundle });
    try {
      const before = JSON.parse((await t.admin('/readyz')).text).policy.revision;
      renameSync(signed.bundle, bundle);
      await eventually(() => t.logs.some((l) => l.msg === 'policy bundle rejected; the previous revision keeps serving'));
      const ready = JSON.parse((await t.admin('/readyz')).text);
      expect(ready).toMatchObject({ ready: true, policy: { revision: before }, last_reload_error: { code: 'bundle_invalid' } });
      expect(ready.last_reload_error.message).toContain('no verification key is configured');
      expect(ready.last_reload_error.message).toContain('bundle_verification_key_file');
      expect(ready.last_reload_error.message).toContain('bundle_accept_unverified_signatures');
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(false);
      expect((await t.admin('/metrics')).text).toMatch(/gatehouse_policy_reloads_total\{result="failed"\} 1/);
    } finally {
      await t.stop();
    }
  });

  it('without a verification key, never becomes ready on a signed bundle at start-up', async () => {
    const signed = await signedBundle(tempDir());
    const t = await startTestApp({ bundle: signed.bundle });
    try {
      const ready = await t.admin('/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.text).last_reload_error.message).toContain('no verification key is configured');
      expect(await t.client.health()).toBe('NOT_SERVING');
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(false);
    } finally {
      await t.stop();
    }
  });

  it('with bundle_accept_unverified_signatures, loads a signed bundle without a key, warning at start-up', async () => {
    const signed = await signedBundle(tempDir());
    const t = await startTestApp({ bundle: signed.bundle, 'bundle-accept-unverified-signatures': 'true' });
    try {
      expect(t.logs.find((l) => l.msg?.startsWith('bundle_accept_unverified_signatures is on'))).toMatchObject({ level: 40 });
      expect((await t.client.check(checkRequestJson({ source: CHECKOUT }))).allowed).toBe(true);
    } finally {
      await t.stop();
    }
  });
});
