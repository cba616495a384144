/**
 * nginx `auth_request` asking gatehouse's HTTP authorization listener (http_addr), end to end with
 * a real nginx (docs/http-authz.md#nginx has the same configuration): an allow reaches the
 * upstream with the decision's headers, a deny gets the decision's status, headers and (through
 * the error_page location) body, and a client cannot forge the original URI.
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { HTTP_AUTHZ_POLICY } from '../support/http-authz-policy.js';
import { freePort, nginxOrSkip, startNginx, type Nginx } from '../support/nginx.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { rawValues, startUpstream } from './sidecar.js';

const tool = nginxOrSkip();
const opa = opaOrSkip();

/** The server block docs/http-authz.md shows, with the ports filled in. */
function serverBlock(listen: number, gatehouse: number, upstream: number): string {
  return `
  server {
    listen 127.0.0.1:${listen};

    location / {
      auth_request /_gatehouse;
      # Headers of gatehouse's 200: x-user for the upstream, x-authz for the client.
      auth_request_set $gatehouse_user $upstream_http_x_user;
      auth_request_set $gatehouse_authz $upstream_http_x_authz;
      auth_request_set $gatehouse_decision $upstream_http_x_gatehouse_decision_id;
      proxy_set_header X-User $gatehouse_user;
      add_header X-Authz $gatehouse_authz;
      add_header X-Gatehouse-Decision-Id $gatehouse_decision always;
      # The decision's status, headers and body on a deny: ask gatehouse again for the full answer.
      error_page 401 403 = @gatehouse_denied;
      proxy_pass http://127.0.0.1:${upstream};
    }

    location = /_gatehouse {
      internal;
      proxy_pass http://127.0.0.1:${gatehouse}/;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }

    # The same request as the subrequest (GET /, no body, X-Original-*), so both get the same decision.
    location @gatehouse_denied {
      set $gatehouse_path /;
      proxy_pass http://127.0.0.1:${gatehouse}$gatehouse_path;
      proxy_method GET;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      # auth_request already copied a 401's WWW-Authenticate from the same decision.
      proxy_hide_header WWW-Authenticate;
    }
  }
`;
}

async function get(port: number, urlPath: string, headers: Record<string, string> = {}, method = 'GET') {
  const response = await fetch(`http://127.0.0.1:${port}${urlPath}`, { method, headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe.skipIf(tool.skip || opa.skip)('nginx auth_request with gatehouse\'s HTTP listener', () => {
  let trusting: TestApp;
  let distrusting: TestApp;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let nginx: Nginx;
  let port: number;
  let untrustedPort: number;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-nginx-');
    const bundle = buildBundle(opa.opa, { 'policy.rego': HTTP_AUTHZ_POLICY }, path.join(dir, 'bundle.tar.gz'), { restrictBuiltins: false });
    trusting = await startTestApp({ bundle, 'http-addr': '127.0.0.1:0', 'http-trusted-proxies': '127.0.0.1' }, { client: false });
    // The same nginx, but gatehouse does not trust it: its X-Original-* headers must be ignored.
    distrusting = await startTestApp({ bundle, 'http-addr': '127.0.0.1:0' }, { client: false });
    upstream = await startUpstream();
    [port, untrustedPort] = [await freePort(), await freePort()];
    nginx = await startNginx(
      tool.nginx,
      dir,
      serverBlock(port, trusting.app.httpAuthzPort!, upstream.port) + serverBlock(untrustedPort, distrusting.app.httpAuthzPort!, upstream.port),
      port,
    );
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
    await trusting?.stop();
    await distrusting?.stop();
  });

  it('an allowed request reaches the upstream with the decision\'s header, and the client gets the other', async () => {
    const reply = await get(port, '/public');
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('upstream reached\n');
    expect(reply.headers.get('x-authz')).toBe('ok');
    const id = reply.headers.get('x-gatehouse-decision-id');
    const seen = upstream.seen.at(-1)!;
    expect(seen.path).toBe('/public');
    expect(rawValues(seen.rawHeaders, 'x-user')).toEqual(['alice']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = trusting.decisions.find((d) => d.decision_id === id);
    expect(line?.input.attributes.request.http).toMatchObject({ method: 'GET', path: '/public', host: `127.0.0.1:${port}`, scheme: 'http' });
    expect(line?.input.parsed_path).toEqual(['public']);
  });

  it('a denied request gets the decision\'s status, headers and body, and never reaches the upstream', async () => {
    const before = upstream.seen.length;
    const reply = await get(port, '/private');
    expect(reply.status).toBe(401);
    expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="gh"');
    expect(reply.headers.get('x-deny-reason')).toBe('no-token');
    expect(reply.text).toBe('login first\n');
    expect(upstream.seen.length).toBe(before);
  });

  it('the original method counts: a DELETE of an allowed-for-GET path is denied (403)', async () => {
    const reply = await get(port, '/public', {}, 'DELETE');
    expect(reply.status).toBe(403);
    expect(upstream.seen.some((r) => r.path === '/public' && rawValues(r.rawHeaders, 'x-user').length === 0)).toBe(false);
  });

  it('a client\'s own X-Original-URI is replaced by nginx (proxy_set_header) and cannot open /private', async () => {
    const reply = await get(port, '/private', { 'X-Original-URI': '/public', 'X-Original-Method': 'GET' });
    expect(reply.status).toBe(401);
  });

  it('a "#" the client puts in the request line never reaches the upstream (nginx passes it on in $request_uri; gatehouse refuses it)', async () => {
    const before = upstream.seen.length;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /public#/../../private HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    // gatehouse's 400 is not one auth_request passes through: nginx answers 500. Never the upstream.
    expect(answer).toMatch(/^HTTP\/1\.1 500 /);
    expect(upstream.seen.length).toBe(before);
  });

  it('from a proxy outside http_trusted_proxies the X-Original-* headers are ignored: the subrequest path decides (denied)', async () => {
    const before = upstream.seen.length;
    const reply = await get(untrustedPort, '/public');
    expect(reply.status).toBe(403);
    expect(upstream.seen.length).toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = distrusting.decisions.at(-1);
    expect(line?.input.attributes.request.http.path).not.toBe('/public');
  });
});
