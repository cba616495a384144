/**
 * The HTTP authorization listener (http_addr) against a real app and a real compiled policy: the
 * answer's status, headers and body; forwarding headers believed only from http_trusted_proxies;
 * the same decision log and metrics as gRPC; fail-closed answers.
 */
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { HTTP_AUTHZ_POLICY } from '../support/http-authz-policy.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const opa = opaOrSkip();

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string }

function ask(port: number, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends `request` as written (repeated headers and all) and resolves to the answer's status. */
function rawStatus(port: number, request: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

describe.skipIf(opa.skip)('HTTP authorization listener', () => {
  let trusting: TestApp;
  let distrusting: TestApp;
  beforeAll(async () => {
    const dir = tempDir('gatehouse-http-authz-');
    const bundle = buildBundle(opa.opa, { 'policy.rego': HTTP_AUTHZ_POLICY }, path.join(dir, 'bundle.tar.gz'), { restrictBuiltins: false });
    trusting = await startTestApp({ bundle, 'http-addr': '127.0.0.1:0', 'http-trusted-proxies': '127.0.0.0/8', 'max-body-bytes': '1024' }, { client: false });
    distrusting = await startTestApp({ bundle, 'http-addr': '127.0.0.1:0' }, { client: false });
  });
  afterAll(async () => {
    await trusting?.stop();
    await distrusting?.stop();
  });

  it('an allow is a 200 with the decision\'s headers and its decision id', async () => {
    const answer = await ask(distrusting.app.httpAuthzPort!, { path: '/public' });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-user']).toBe('alice');
    expect(answer.headers['x-authz']).toBe('ok');
    expect(answer.headers['x-gatehouse-reason-code']).toBe('policy_allowed');
    const id = answer.headers['x-gatehouse-decision-id'];
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = distrusting.decisions.find((d) => d.decision_id === id);
    expect(line?.input.attributes.request.http.path).toBe('/public');
    expect(line?.input.attributes.source.address.socketAddress.address).toBe('127.0.0.1');
    expect(line?.input.attributes.request.http.headers[':method']).toBe('GET');
  });

  it('a deny carries the decision\'s status, headers and body', async () => {
    const answer = await ask(distrusting.app.httpAuthzPort!, { path: '/private' });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="gh"');
    expect(answer.headers['x-deny-reason']).toBe('no-token');
    expect(answer.body).toBe('login first\n');
  });

  it('a body is parsed like Envoy\'s with_request_body (parsed_body)', async () => {
    const answer = await ask(distrusting.app.httpAuthzPort!, { method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: '{"order":7}' });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-order']).toBe('7');
  });

  it('a body over max_body_bytes is a 413 deny', async () => {
    const answer = await ask(trusting.app.httpAuthzPort!, { method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: `{"order":7,"pad":"${'x'.repeat(2000)}"}` });
    expect(answer.status).toBe(413);
    expect(answer.headers['x-gatehouse-reason-code']).toBe('body_too_large');
  });

  it('X-Original-URI/-Method from a trusted proxy describe the request (nginx auth_request)', async () => {
    const answer = await ask(trusting.app.httpAuthzPort!, { path: '/auth', headers: { 'x-original-uri': '/public', 'x-original-method': 'GET' } });
    expect(answer.status).toBe(200);
    const denied = await ask(trusting.app.httpAuthzPort!, { path: '/auth', headers: { 'x-original-uri': '/public', 'x-original-method': 'DELETE' } });
    expect(denied.status).toBe(403);
  });

  it('X-Forwarded-Uri/-Method/-Host/-Proto from a trusted proxy describe the request (Traefik forwardAuth)', async () => {
    const answer = await ask(trusting.app.httpAuthzPort!, { path: '/', headers: { 'x-forwarded-uri': '/public?x=1', 'x-forwarded-method': 'GET', 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' } });
    expect(answer.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = trusting.decisions.find((d) => d.decision_id === answer.headers['x-gatehouse-decision-id']);
    expect(line?.input.attributes.request.http).toMatchObject({ host: 'shop.example', scheme: 'https', path: '/public?x=1' });
    expect(line?.input.parsed_query).toEqual({ x: ['1'] });
  });

  it('a client\'s own X-Original-URI/-Method passed on by a trusted proxy that sets X-Forwarded-* (Traefik) is refused, not believed', async () => {
    // Traefik forwardAuth sets X-Forwarded-Uri/-Method and copies the client's other headers, so a
    // client's X-Original-URI reaches gatehouse next to the true X-Forwarded-Uri.
    const uri = await ask(trusting.app.httpAuthzPort!, { path: '/', headers: { 'x-forwarded-uri': '/private', 'x-forwarded-method': 'GET', 'x-original-uri': '/public' } });
    expect(uri.status).toBe(400);
    expect(uri.headers['x-gatehouse-reason-code']).toBe('input_parse_error');
    const method = await ask(trusting.app.httpAuthzPort!, { path: '/', headers: { 'x-forwarded-uri': '/public', 'x-forwarded-method': 'DELETE', 'x-original-method': 'GET' } });
    expect(method.status).toBe(400);
    // Each refusal is a decision like any other: logged, with the reason.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = trusting.decisions.find((d) => d.decision_id === uri.headers['x-gatehouse-decision-id']);
    expect(line?.gatehouse).toMatchObject({ outcome: 'deny', reason_code: 'input_parse_error' });
    expect(line?.gatehouse.reason).toContain('x-original-uri');
    // The same value in both families is one original request.
    const agreed = await ask(trusting.app.httpAuthzPort!, { path: '/', headers: { 'x-forwarded-uri': '/public', 'x-original-uri': '/public', 'x-forwarded-method': 'GET' } });
    expect(agreed.status).toBe(200);
  });

  it('an original URI without the original method (or the reverse) from a trusted proxy is refused: the subrequest\'s own method is not the client\'s', async () => {
    // nginx's auth_request subrequest is a GET whatever the client sent: with only X-Original-URI
    // set, a client's DELETE /public would be decided as GET /public.
    const uriOnly = await ask(trusting.app.httpAuthzPort!, { path: '/auth', headers: { 'x-original-uri': '/public' } });
    expect(uriOnly.status).toBe(400);
    expect(uriOnly.headers['x-gatehouse-reason-code']).toBe('input_parse_error');
    const methodOnly = await ask(trusting.app.httpAuthzPort!, { path: '/public', headers: { 'x-forwarded-method': 'GET' } });
    expect(methodOnly.status).toBe(400);
  });

  it('a forwarding header sent twice by a trusted proxy is refused (which one is the original?)', async () => {
    const twice = await rawStatus(trusting.app.httpAuthzPort!, 'GET /auth HTTP/1.1\r\nHost: gatehouse\r\nX-Original-URI: /public\r\nX-Original-URI: /private\r\nX-Original-Method: GET\r\nConnection: close\r\n\r\n');
    expect(twice).toBe(400);
  });

  it('forged forwarding headers from a peer outside http_trusted_proxies are ignored', async () => {
    const answer = await ask(distrusting.app.httpAuthzPort!, { path: '/private', headers: { 'x-original-uri': '/public', 'x-forwarded-uri': '/public', 'x-original-method': 'GET' } });
    expect(answer.status).toBe(401);
    expect(distrusting.logs.some((l) => l.msg?.includes('forwarding headers from a peer outside http_trusted_proxies were ignored'))).toBe(true);
  });

  it('request hygiene applies: an encoded separator in the original URI is refused', async () => {
    const answer = await ask(trusting.app.httpAuthzPort!, { path: '/auth', headers: { 'x-original-uri': '/public%2F..%2Fprivate', 'x-original-method': 'GET' } });
    expect(answer.status).toBe(400);
    expect(answer.headers['x-gatehouse-reason-code']).toBe('request_refused');
  });

  it('a fragment (#) in the original URI or the request target is refused: the backend gets it, the policy would not', async () => {
    // nginx passes $request_uri with its "#..." to the backend unchanged; the policy's parsed_path
    // would stop at the "#" (["public"] for /public#/../../private).
    const forwarded = await ask(trusting.app.httpAuthzPort!, { path: '/auth', headers: { 'x-original-uri': '/public#/../../private', 'x-original-method': 'GET' } });
    expect(forwarded.status).toBe(400);
    expect(forwarded.headers['x-gatehouse-reason-code']).toBe('input_parse_error');
    const direct = await rawStatus(distrusting.app.httpAuthzPort!, 'GET /public#/../private HTTP/1.1\r\nHost: gatehouse\r\nConnection: close\r\n\r\n');
    expect(direct).toBe(400);
  });

  it('an allow with query-parameter mutations cannot be carried over HTTP: a deny, logged as decision_invalid', async () => {
    const answer = await ask(distrusting.app.httpAuthzPort!, { path: '/query-mutation' });
    expect(answer.status).toBe(403);
    expect(answer.headers['x-gatehouse-reason-code']).toBe('decision_invalid');
    // The allow's headers were for the upstream: the caller of a deny never sees them.
    expect(answer.headers['x-upstream-token']).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = distrusting.decisions.find((d) => d.decision_id === answer.headers['x-gatehouse-decision-id']);
    expect(line).toBeDefined();
  });

  it('a non-ASCII header value goes as its UTF-8 bytes (as Envoy sends it), not as an error', async () => {
    const answer = await ask(distrusting.app.httpAuthzPort!, { path: '/utf8-header' });
    expect(answer.status).toBe(200);
    expect(Buffer.from(answer.headers['x-name'] as string, 'latin1').toString('utf8')).toBe('Zoë €');
  });

  it('an allow that sets a pseudo-header (:path) cannot be carried over HTTP: a 403 decision_invalid, counted as a 4xx answer', async () => {
    const count = async (statusClass: string) => Number(new RegExp(`gatehouse_http_authz_requests_total\\{status_class="${statusClass}"\\} (\\d+)`).exec((await distrusting.admin('/metrics')).text)?.[1] ?? 0);
    const before = { ok: await count('2xx'), denied: await count('4xx') };
    const answer = await ask(distrusting.app.httpAuthzPort!, { path: '/pseudo-header' });
    expect(answer.status).toBe(403);
    expect(answer.headers['x-gatehouse-reason-code']).toBe('decision_invalid');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = distrusting.decisions.find((d) => d.decision_id === answer.headers['x-gatehouse-decision-id']);
    expect(line?.gatehouse).toMatchObject({ outcome: 'deny', reason_code: 'decision_invalid' });
    expect(await count('2xx')).toBe(before.ok);
    expect(await count('4xx')).toBe(before.denied + 1);
  });

  it('pipelined requests on one connection are decided one after another: one connection cannot fill the evaluation queue (eval_queue_full for everyone)', async () => {
    // 2,000 requests in one write: node:http calls the handler for every request it parses from a
    // read at once, so without a per-connection order they were all evaluations waiting together.
    const count = 2000;
    let requests = '';
    for (let i = 0; i < count; i++) requests += `GET /public?n=${i} HTTP/1.1\r\nHost: gatehouse\r\n\r\n`;
    requests += 'GET /private HTTP/1.1\r\nHost: gatehouse\r\nConnection: close\r\n\r\n';
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(distrusting.app.httpAuthzPort!, '127.0.0.1', () => socket.write(requests));
      let received = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (received += chunk));
      socket.on('end', () => resolve(received));
      socket.on('error', reject);
    });
    const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => m[1]);
    expect(statuses).toHaveLength(count + 1);
    expect(text).not.toContain('eval_queue_full');
    // Answered in order, each its own decision.
    expect(statuses.slice(0, count).every((status) => status === '200')).toBe(true);
    expect(statuses[count]).toBe('401');
  }, 60_000);

  it('counts answers in gatehouse_http_authz_requests_total and every decision in gatehouse_decisions_total', async () => {
    const metrics = (await distrusting.admin('/metrics')).text;
    expect(metrics).toMatch(/gatehouse_http_authz_requests_total\{status_class="2xx"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_http_authz_requests_total\{status_class="4xx"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_decisions_total\{[^}]*reason="policy_denied"[^}]*\} [1-9]/);
  });
});
