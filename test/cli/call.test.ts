/** `gatehouse call` against a real `gatehouse serve` process: plaintext, mTLS and a unix socket. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { MAIN, run, runWithStdin, startServe, type ServeProcess } from '../support/cli.js';
import { createCa, issueLeaf, issueSvid, type Ca } from '../support/pki.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, INVENTORY, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
const SERVER_SANS = 'subjectAltName=URI:spiffe://mesh.local/ns/gatehouse/sa/gatehouse,DNS:localhost,IP:127.0.0.1';
const READ_STOCK = ['--destination', INVENTORY, '--method', 'GET', '--path', '/api/v1/stock/sku-1'];

async function stop(server: ServeProcess | undefined): Promise<void> {
  if (!server) return;
  server.child.kill('SIGTERM');
  await server.exited;
}

describe.skipIf(tool.skip)('gatehouse call', () => {
  let dir: string;
  let bundle: string;
  beforeAll(() => {
    dir = tempDir('gatehouse-call-');
    bundle = buildExampleBundle(tool.opa, dir);
  });

  describe('plaintext', () => {
    let server: ServeProcess;
    let addr: string;
    beforeAll(async () => {
      server = await startServe(bundle, ['--workers', '1']);
      addr = `127.0.0.1:${server.grpcPort}`;
    });
    afterAll(() => stop(server));

    it('prints an allow with the headers set for the upstream and the decision id; exit 0', async () => {
      const result = run('call', '--addr', addr, '--principal', CHECKOUT, ...READ_STOCK, '--header', 'X-Request-Id: r-1');
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^ALLOWED \(status OK\)$/m);
      expect(result.stdout).toContain(`  x-caller-spiffe-id: ${CHECKOUT}`);
      expect(result.stdout).toContain('  x-gatehouse-rule: checkout-reads-stock');
      const decisionId = /^decision id: (\S+)$/m.exec(result.stdout)?.[1];
      expect(decisionId).toBeDefined();
      // The id the server logged for this Check, with the principal --principal gave it.
      await eventually(() => server.stdout().includes(decisionId!));
      const logged = server.stdout().split('\n').find((line) => line.includes(decisionId!));
      expect(logged, 'decision-log line with the printed id').toBeDefined();
      const event = JSON.parse(logged!);
      expect(event.input.attributes.source.principal).toBe(CHECKOUT);
      expect(event.input.attributes.request.http.headers['x-request-id']).toBe('r-1');
    });

    it('prints a deny with status, HTTP status, headers and body; exit 1', () => {
      const result = run('call', '--addr', addr, '--principal', PAYMENTS, ...READ_STOCK);
      expect(result.status).toBe(1);
      expect(result.stdout).toMatch(/^DENIED \(status PERMISSION_DENIED: policy_denied, HTTP 403 Forbidden\)$/m);
      expect(result.stdout).toContain('  content-type: application/json');
      expect(result.stdout).toContain(`body: {"reason":"${PAYMENTS} may not call inventory","error":"forbidden"}`);
      expect(result.stdout).toMatch(/"reason_code": "policy_denied"/);
    });

    it('--json prints the CheckResponse in proto JSON form; --request reads a CheckRequest file or stdin', () => {
      const file = path.join(dir, 'request.json');
      writeFileSync(file, JSON.stringify(checkRequestJson({ source: CHECKOUT })));
      const allowed = run('call', '--addr', addr, '--request', file, '--json');
      expect(allowed.status).toBe(0);
      const json = JSON.parse(allowed.stdout);
      expect(json).toMatchObject({ allowed: true, response: { status: { code: 0 }, okResponse: { headers: expect.any(Array) } } });
      expect(json.decision_id).toBe(json.response.dynamicMetadata.decision_id);

      const denied = runWithStdin(JSON.stringify(checkRequestJson({ source: PAYMENTS })), 'call', '--addr', addr, '--request', '-', '--json');
      expect(denied.status).toBe(1);
      expect(JSON.parse(denied.stdout)).toMatchObject({ allowed: false, response: { status: { code: 7 }, deniedResponse: { status: { code: 'Forbidden' } } } });
    });

    it('usage errors exit 2: --request with shorthand flags, neither, a bad header, a request that is not a CheckRequest', () => {
      const both = run('call', '--addr', addr, '--request', 'x.json', '--path', '/');
      expect(both.status).toBe(2);
      expect(both.stderr).toContain("option '--request <FILE>' cannot be used with option '--path <PATH>'");
      const neither = run('call', '--addr', addr);
      expect(neither.status).toBe(2);
      expect(neither.stderr).toContain('give --request FILE, or --path');
      const header = run('call', '--addr', addr, '--path', '/', '--header', 'no-colon');
      expect(header.status).toBe(2);
      expect(header.stderr).toContain('--header must be NAME:VALUE, got "no-colon"');
      const bad = runWithStdin('{"attributes": {"nope": 1}}', 'call', '--addr', addr, '--request', '-');
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('unknown field "nope"');
      const mistyped = run('call', '--addr', addr, '--princpal', CHECKOUT, '--path', '/');
      expect(mistyped.status).toBe(2);
      expect(mistyped.stderr).toContain('(Did you mean --principal?)');
    });
  });

  it('a server that is not there: exit 2 with the gRPC status', () => {
    const result = run('call', '--addr', '127.0.0.1:1', '--path', '/');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('gatehouse call: no CheckResponse from 127.0.0.1:1: UNAVAILABLE');
  });

  describe('a server that accepts the connection and never answers', () => {
    let listener: Server;
    let port: number;
    beforeAll(async () => {
      // A TCP listener that takes connections and sends nothing: no TLS handshake, no HTTP/2 SETTINGS.
      listener = createServer(() => undefined);
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      port = (listener.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

    // Bounded so a call that never ends fails the test instead of hanging it.
    const callBounded = (...args: string[]) => spawnSync(process.execPath, [MAIN, 'call', '--addr', `127.0.0.1:${port}`, '--path', '/', '--timeout-ms', '500', ...args], { encoding: 'utf8', timeout: 30_000 });

    it.each([
      ['plaintext', [] as string[]],
      ['TLS (the handshake never completes)', ['--ca', '<ca>']],
    ])('%s: gives up at --timeout-ms and exits 2 naming the deadline', (_name, extra) => {
      const ca = createCa(tempDir('gatehouse-call-hang-'), 'ca', 'mesh.local');
      const result = callBounded(...extra.map((arg) => (arg === '<ca>' ? ca.cert : arg)));
      expect(result.signal, `still running after 30 s; stderr: ${result.stderr}`).toBeNull();
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`gatehouse call: no CheckResponse from 127.0.0.1:${port} within 500 ms (--timeout-ms): DEADLINE_EXCEEDED`);
    });
  });

  describe('mTLS', () => {
    let server: ServeProcess;
    let ca: Ca;
    let client: { cert: string; key: string };
    beforeAll(async () => {
      ca = createCa(dir, 'mesh-ca', 'mesh.local');
      const serving = issueLeaf(dir, 'server', ca, SERVER_SANS, 'basicConstraints=critical,CA:FALSE');
      client = issueSvid(dir, 'inventory-envoy', 'spiffe://mesh.local/ns/shop/sa/inventory-envoy', ca);
      server = await startServe(bundle, ['--workers', '1', '--tls-cert-file', serving.cert, '--tls-key-file', serving.key, '--tls-client-ca-file', ca.cert]);
    });
    afterAll(() => stop(server));

    it('with --ca, --cert and --key: allowed exit 0, denied exit 1', () => {
      const tls = ['--addr', `127.0.0.1:${server.grpcPort}`, '--ca', ca.cert, '--cert', client.cert, '--key', client.key];
      const allowed = run('call', ...tls, '--principal', CHECKOUT, ...READ_STOCK);
      expect(allowed.stderr).toBe('');
      expect(allowed.status).toBe(0);
      expect(allowed.stdout).toContain('ALLOWED');
      const denied = run('call', ...tls, '--principal', PAYMENTS, ...READ_STOCK);
      expect(denied.status).toBe(1);
      expect(denied.stdout).toContain('DENIED');
      // The certificate names localhost too: --server-name checks that name instead of the IP.
      const byName = run('call', ...tls, '--server-name', 'localhost', '--principal', CHECKOUT, ...READ_STOCK);
      expect(byName.status).toBe(0);
    });

    it('without a client certificate, or in plaintext, there is no answer: exit 2', () => {
      const noClientCert = run('call', '--addr', `127.0.0.1:${server.grpcPort}`, '--ca', ca.cert, '--principal', CHECKOUT, ...READ_STOCK);
      expect(noClientCert.status).toBe(2);
      expect(noClientCert.stderr).toContain('no CheckResponse');
      const plaintext = run('call', '--addr', `127.0.0.1:${server.grpcPort}`, '--principal', CHECKOUT, ...READ_STOCK);
      expect(plaintext.status).toBe(2);
      const keyWithoutCert = run('call', '--addr', `127.0.0.1:${server.grpcPort}`, '--key', client.key, '--path', '/');
      expect(keyWithoutCert.status).toBe(2);
      expect(keyWithoutCert.stderr).toContain('--cert and --key go together');
    });
  });

  describe('unix socket, and serve switches', () => {
    let server: ServeProcess;
    let socket: string;
    beforeAll(async () => {
      socket = path.join(dir, 'gatehouse.sock');
      // --dry-run alone (a switch): every Check is answered allow.
      server = await startServe(bundle, ['--workers', '1', '--addr', `unix://${socket}`, '--dry-run', '--no-watch']);
    });
    afterAll(() => stop(server));

    it('calls over unix:///path; --dry-run alone turned dry run on', async () => {
      const allowed = run('call', '--addr', `unix://${socket}`, '--principal', CHECKOUT, ...READ_STOCK);
      expect(allowed.status).toBe(0);
      expect(allowed.stdout).toContain('ALLOWED');
      // Denied by the policy, allowed by dry run: the decision log keeps the policy's answer.
      const payments = run('call', '--addr', `unix://${socket}`, '--principal', PAYMENTS, ...READ_STOCK, '--json');
      expect(payments.status).toBe(0);
      const decisionId = JSON.parse(payments.stdout).decision_id as string;
      await eventually(() => server.stdout().includes(decisionId));
      const logged = server.stdout().split('\n').find((line) => line.includes(decisionId))!;
      expect(logged).toContain('"dry_run":true');
      expect(JSON.parse(logged).gatehouse.outcome).toBe('deny');
      expect(server.stderr()).toContain('dry_run is on');
    });
  });
});
