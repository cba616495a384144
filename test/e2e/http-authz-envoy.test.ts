/**
 * Envoy's ext_authz `http_service` asking gatehouse's HTTP authorization listener (http_addr), end
 * to end with a real Envoy (docs/http-authz.md#envoy has the same filter configuration): the
 * original method, path, headers and body arrive as the authorization request itself; an allow
 * reaches the upstream with the decision's headers, a deny gets its status, headers and body, and
 * a client's X-Original-URI is ignored (gatehouse trusts no proxy's forwarding headers here).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { HTTP_AUTHZ_POLICY } from '../support/http-authz-policy.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip, ingressEnvoyConfig, runEnvoy, staticCluster } from './envoy.js';
import { rawValues, startUpstream } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();

const exact = (name: string) => ({ exact: name });

/** The ext_authz filter docs/http-authz.md shows. */
function extAuthzFilter(): object {
  return {
    name: 'envoy.filters.http.ext_authz',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      transport_api_version: 'V3',
      failure_mode_allow: false,
      with_request_body: { max_request_bytes: 8192, allow_partial_message: false },
      allowed_headers: { patterns: [exact('content-type'), exact('x-request-id'), { prefix: 'x-original-' }] },
      http_service: {
        server_uri: { uri: 'http://gatehouse', cluster: 'gatehouse_http', timeout: '10s' },
        authorization_response: {
          allowed_upstream_headers: { patterns: [exact('x-user'), exact('x-order'), exact('x-gatehouse-decision-id')] },
          allowed_client_headers: { patterns: [exact('www-authenticate'), exact('x-deny-reason'), exact('x-gatehouse-decision-id'), exact('x-gatehouse-reason-code')] },
          allowed_client_headers_on_success: { patterns: [exact('x-authz')] },
        },
      },
    },
  };
}

function startEnvoy(envoy: string, dir: string, gatehousePort: number, upstreamPort: number): Promise<{ port: number; stop(): Promise<void> }> {
  return runEnvoy(envoy, dir, 'envoy', ingressEnvoyConfig([extAuthzFilter()], [staticCluster('upstream', upstreamPort), staticCluster('gatehouse_http', gatehousePort)]));
}

async function send(port: number, urlPath: string, init: RequestInit = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${urlPath}`, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe.skipIf(tool.skip || opa.skip)(`Envoy ${tool.version} ext_authz http_service with gatehouse's HTTP listener`, () => {
  let gatehouse: TestApp;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let envoy: Awaited<ReturnType<typeof startEnvoy>>;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-envoy-http-');
    const bundle = buildBundle(opa.opa, { 'policy.rego': HTTP_AUTHZ_POLICY }, path.join(dir, 'bundle.tar.gz'), { restrictBuiltins: false });
    // No http_trusted_proxies: Envoy sends the original request itself and needs no forwarding headers.
    gatehouse = await startTestApp({ bundle, 'http-addr': '127.0.0.1:0' }, { client: false });
    upstream = await startUpstream();
    envoy = await startEnvoy(tool.envoy, dir, gatehouse.app.httpAuthzPort!, upstream.port);
  }, 60_000);

  afterAll(async () => {
    await envoy?.stop();
    await upstream?.close();
    await gatehouse?.stop();
  });

  it('an allowed request reaches the upstream with the decision\'s header, and the client gets its response header', async () => {
    const reply = await send(envoy.port, '/public?page=2');
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('upstream reached\n');
    expect(reply.headers.get('x-authz')).toBe('ok');
    const seen = upstream.seen.at(-1)!;
    expect(seen.path).toBe('/public?page=2');
    expect(rawValues(seen.rawHeaders, 'x-user')).toEqual(['alice']);
    const id = rawValues(seen.rawHeaders, 'x-gatehouse-decision-id')[0];
    await new Promise((resolve) => setTimeout(resolve, 50));
    const line = gatehouse.decisions.find((d) => d.decision_id === id);
    expect(line?.input.parsed_query).toEqual({ page: ['2'] });
    expect(line?.input.attributes.request.http.method).toBe('GET');
  });

  it('a denied request gets the decision\'s status, headers and body, and never reaches the upstream', async () => {
    const before = upstream.seen.length;
    const reply = await send(envoy.port, '/private');
    expect(reply.status).toBe(401);
    expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="gh"');
    expect(reply.headers.get('x-deny-reason')).toBe('no-token');
    expect(reply.headers.get('x-gatehouse-reason-code')).toBe('policy_denied');
    expect(reply.text).toBe('login first\n');
    expect(upstream.seen.length).toBe(before);
  });

  it('the body Envoy forwards (with_request_body) is parsed into parsed_body', async () => {
    const reply = await send(envoy.port, '/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"order":7}' });
    expect(reply.status).toBe(200);
    expect(rawValues(upstream.seen.at(-1)!.rawHeaders, 'x-order')).toEqual(['7']);
    const denied = await send(envoy.port, '/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"order":8}' });
    expect(denied.status).toBe(403);
  });

  it('a client\'s X-Original-URI is not trusted: /private with X-Original-URI: /public stays denied', async () => {
    const reply = await send(envoy.port, '/private', { headers: { 'x-original-uri': '/public', 'x-original-method': 'GET' } });
    expect(reply.status).toBe(401);
    expect(reply.text).toBe('login first\n');
  });
});
