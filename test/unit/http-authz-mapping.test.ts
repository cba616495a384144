/**
 * The HTTP authorization request → CheckRequest mapping (http-authz/check-request.ts), the answer
 * (http-authz/response.ts) and the trusted-proxy list, as pure functions.
 */
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/authz/outcome.js';
import { toCheckRequest, type HttpAuthzRequest } from '../../src/http-authz/check-request.js';
import { toHttpAnswer, untransportable } from '../../src/http-authz/response.js';
import { isTrusted, trustedProxyList } from '../../src/http-authz/server.js';

function request(over: Partial<HttpAuthzRequest> = {}): HttpAuthzRequest {
  return {
    method: 'GET',
    url: '/auth',
    rawHeaders: ['Host', 'gatehouse:9193', 'X-Original-URI', '/shop/cart?id=1', 'X-Original-Method', 'POST', 'Accept', 'a', 'accept', 'b'],
    httpVersion: '1.1',
    body: Buffer.alloc(0),
    remote: { address: '::ffff:10.0.0.5', port: 40000 },
    local: { address: '127.0.0.1', port: 9193 },
    trustedProxy: true,
    nowMs: 1_700_000_000_123,
    ...over,
  };
}

const http = (r: HttpAuthzRequest) => toCheckRequest(r).request.attributes!.request!.http!;

describe('toCheckRequest', () => {
  it('from a trusted proxy, X-Original-URI/-Method are the request; headers as Envoy sends them', () => {
    const mapped = toCheckRequest(request());
    expect(mapped.forwarding).toBe('trusted_proxy_headers');
    const h = mapped.request.attributes!.request!.http!;
    expect(h).toMatchObject({ method: 'POST', path: '/shop/cart?id=1', host: 'gatehouse:9193', scheme: 'http', protocol: 'HTTP/1.1', size: '0' });
    expect(h.headers).toMatchObject({ accept: 'a,b', ':method': 'POST', ':path': '/shop/cart?id=1', ':authority': 'gatehouse:9193', ':scheme': 'http', 'x-original-uri': '/shop/cart?id=1' });
    expect(h.headers!.host).toBeUndefined();
    expect(mapped.request.attributes!.source!.address).toEqual({ socketAddress: { address: '10.0.0.5', portValue: 40000 } });
    expect(mapped.request.attributes!.destination!.address).toEqual({ socketAddress: { address: '127.0.0.1', portValue: 9193 } });
    expect(mapped.request.attributes!.request!.time).toEqual({ seconds: '1700000000', nanos: 123_000_000 });
  });

  it('from any other peer, the forwarding headers are ignored (and kept in headers)', () => {
    const mapped = toCheckRequest(request({ trustedProxy: false }));
    expect(mapped.forwarding).toBe('untrusted_proxy_headers_ignored');
    const h = mapped.request.attributes!.request!.http!;
    expect(h).toMatchObject({ method: 'GET', path: '/auth', host: 'gatehouse:9193', scheme: 'http' });
    expect(h.headers!['x-original-method']).toBe('POST');
  });

  it('Traefik\'s X-Forwarded-Method/-Uri/-Host/-Proto, from a trusted proxy', () => {
    const h = http(request({ rawHeaders: ['Host', 'auth', 'X-Forwarded-Method', 'PUT', 'X-Forwarded-Uri', '/a', 'X-Forwarded-Host', 'shop.example', 'X-Forwarded-Proto', 'https'] }));
    expect(h).toMatchObject({ method: 'PUT', path: '/a', host: 'shop.example', scheme: 'https' });
    expect(h.headers![':authority']).toBe('shop.example');
  });

  it('two different values for the original URI, method, host or scheme from a trusted proxy are refused, not one preferred', () => {
    // Traefik sets X-Forwarded-Uri and passes a client's X-Original-URI along: neither may win.
    expect(() => toCheckRequest(request({ rawHeaders: ['X-Forwarded-Uri', '/b', 'X-Original-URI', '/a'] }))).toThrow(/x-forwarded-uri "\/b" and x-original-uri "\/a"/);
    expect(() => toCheckRequest(request({ rawHeaders: ['X-Forwarded-Method', 'PUT', 'X-Original-Method', 'GET'] }))).toThrow(/input|original requests/);
    expect(() => toCheckRequest(request({ rawHeaders: ['X-Original-URI', '/a', 'x-original-uri', '/b'] }))).toThrow(/original requests/);
    expect(() => toCheckRequest(request({ rawHeaders: ['X-Forwarded-Host', 'a', 'X-Forwarded-Host', 'b'] }))).toThrow(/x-forwarded-host/);
    expect(() => toCheckRequest(request({ rawHeaders: ['X-Forwarded-Proto', 'https', 'X-Forwarded-Proto', 'http'] }))).toThrow(/x-forwarded-proto/);
    // The same value twice, or in both families, is one original request.
    expect(http(request({ rawHeaders: ['X-Forwarded-Uri', '/a', 'X-Original-URI', '/a', 'X-Original-Method', 'GET', 'X-Original-Method', 'GET'] }))).toMatchObject({ method: 'GET', path: '/a' });
    // From a peer that is not trusted they are ignored, so they cannot conflict.
    expect(http(request({ trustedProxy: false, rawHeaders: ['X-Forwarded-Uri', '/b', 'X-Original-URI', '/a'] }))).toMatchObject({ path: '/auth' });
  });

  it('without forwarding headers the request is taken as it arrived (Envoy http_service)', () => {
    const mapped = toCheckRequest(request({ method: 'DELETE', url: '/orders/1', rawHeaders: ['Host', 'shop'], trustedProxy: false }));
    expect(mapped.forwarding).toBe('direct');
    expect(mapped.request.attributes!.request!.http).toMatchObject({ method: 'DELETE', path: '/orders/1', host: 'shop' });
  });

  it('a UTF-8 body is `body`; other bytes are `raw_body` (base64)', () => {
    expect(http(request({ body: Buffer.from('{"a":"é"}') }))).toMatchObject({ body: '{"a":"é"}', size: '10' });
    const raw = http(request({ body: Buffer.from([0xff, 0x00, 0x01]) }));
    expect(raw.body).toBeUndefined();
    expect(raw.rawBody).toBe(Buffer.from([0xff, 0x00, 0x01]).toString('base64'));
  });

  it('the target and header values, which node gives as latin1, are read as UTF-8 (as Envoy reads them)', () => {
    const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    const h = http(request({ url: latin1('/café'), rawHeaders: ['X-Name', latin1('Zoë €')], trustedProxy: false }));
    expect(h.path).toBe('/café');
    expect(h.headers!['x-name']).toBe('Zoë €');
    expect(http(request({ url: '/ÿ', rawHeaders: [], trustedProxy: false })).path).toBe('/�');
  });

  it('from a trusted proxy, the original URI and method come together or not at all', () => {
    expect(() => toCheckRequest(request({ rawHeaders: ['X-Original-URI', '/a'] }))).toThrow(/x-original-uri or x-forwarded-uri without x-original-method or x-forwarded-method/);
    expect(() => toCheckRequest(request({ rawHeaders: ['X-Forwarded-Method', 'GET'] }))).toThrow(/without x-original-uri/);
    // Host and scheme alone are fine; from a peer that is not trusted, nothing is read.
    expect(http(request({ rawHeaders: ['X-Forwarded-Proto', 'https'] }))).toMatchObject({ method: 'GET', path: '/auth', scheme: 'https' });
    expect(http(request({ trustedProxy: false, rawHeaders: ['X-Original-URI', '/a'] }))).toMatchObject({ path: '/auth' });
  });

  it('a fragment in the original URI or the request target is refused', () => {
    expect(() => toCheckRequest(request({ rawHeaders: ['X-Original-URI', '/public#/../admin', 'X-Original-Method', 'GET'] }))).toThrow(/fragment/);
    expect(() => toCheckRequest(request({ url: '/public#x', rawHeaders: [], trustedProxy: false }))).toThrow(/fragment/);
  });

  it('x-request-id becomes http.id', () => {
    expect(http(request({ rawHeaders: ['X-Request-Id', 'r-1'] })).id).toBe('r-1');
  });
});

const decision = (over: Partial<NonNullable<Outcome['decision']>> = {}): NonNullable<Outcome['decision']> => ({
  allowed: true,
  headers: [['x-user', 'alice']],
  responseHeadersToAdd: [['x-authz', 'ok']],
  requestHeadersToRemove: [],
  queryParametersToSet: [],
  queryParametersToRemove: [],
  body: '',
  httpStatus: 403,
  dynamicMetadata: undefined,
  reason: undefined,
  ...over,
});
const outcome = (over: Partial<Outcome> = {}): Outcome => ({
  decisionId: 'd-1', allowed: true, httpStatus: 200, reasonLabel: 'policy_allowed', reason: 'allowed by policy', decision: decision(), cache: 'off', timings: { inputNs: 0, evalNs: 0, totalNs: 0 }, ...over,
});

describe('toHttpAnswer', () => {
  it('allow: 200 with the decision\'s headers, the removals as x-envoy-auth-headers-to-remove, and the decision id', () => {
    const answer = toHttpAnswer(outcome({ decision: decision({ requestHeadersToRemove: ['cookie', 'x-debug'] }) }));
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('');
    expect(answer.headers).toEqual([
      ['x-gatehouse-decision-id', 'd-1'],
      ['x-gatehouse-reason-code', 'policy_allowed'],
      ['x-user', 'alice'],
      ['x-authz', 'ok'],
      ['x-envoy-auth-headers-to-remove', 'cookie,x-debug'],
    ]);
  });

  it('deny: the decision\'s status, headers and body', () => {
    const answer = toHttpAnswer(outcome({ allowed: false, httpStatus: 401, reasonLabel: 'policy_denied', decision: decision({ allowed: false, headers: [['www-authenticate', 'Bearer']], body: 'no\n', httpStatus: 401 }) }));
    expect(answer).toEqual({ status: 401, headers: [['x-gatehouse-decision-id', 'd-1'], ['x-gatehouse-reason-code', 'policy_denied'], ['www-authenticate', 'Bearer']], body: 'no\n' });
  });

  it('an error is a deny with its status; a deny never answers 2xx', () => {
    expect(toHttpAnswer(outcome({ allowed: false, httpStatus: 503, reasonLabel: 'policy_not_loaded', decision: undefined })).status).toBe(503);
    expect(toHttpAnswer(outcome({ allowed: false, httpStatus: 204, reasonLabel: 'policy_denied', decision: decision({ allowed: false, httpStatus: 204 }) })).status).toBe(403);
    expect(toHttpAnswer(outcome({ allowed: true, decision: undefined })).status).toBe(500);
  });

  it('dry run answers a lifted deny with 200 and none of the policy\'s headers', () => {
    const answer = toHttpAnswer(outcome({ allowed: false, httpStatus: 401, reasonLabel: 'policy_denied', decision: decision({ allowed: false, headers: [['x-a', '1']] }) }), true);
    expect(answer.status).toBe(200);
    expect(answer.headers.map(([k]) => k)).toEqual(['x-gatehouse-decision-id', 'x-gatehouse-reason-code']);
    expect(toHttpAnswer(outcome({ allowed: false, httpStatus: 403, reasonLabel: 'untrusted_trust_domain', decision: undefined }), true).status).toBe(403);
  });

  it('query-parameter mutations cannot be carried over HTTP', () => {
    expect(untransportable(outcome())).toBeUndefined();
    expect(untransportable(outcome({ decision: decision({ queryParametersToSet: [['a', '1']] }) }))).toMatch(/query_parameters_to_set/);
  });
});

describe('http_trusted_proxies', () => {
  const list = trustedProxyList(['10.0.0.0/8', '127.0.0.1', '2001:db8::/32']);
  it('matches IPv4, IPv4-mapped IPv6 and IPv6 peers by address and CIDR block', () => {
    expect(isTrusted(list, '10.1.2.3')).toBe(true);
    expect(isTrusted(list, '::ffff:10.1.2.3')).toBe(true);
    expect(isTrusted(list, '127.0.0.1')).toBe(true);
    expect(isTrusted(list, '127.0.0.2')).toBe(false);
    expect(isTrusted(list, '2001:db8::1')).toBe(true);
    expect(isTrusted(list, '::1')).toBe(false);
    expect(isTrusted(list, '')).toBe(false);
  });
  it('an empty list trusts no one', () => {
    expect(isTrusted(trustedProxyList([]), '127.0.0.1')).toBe(false);
  });
});
