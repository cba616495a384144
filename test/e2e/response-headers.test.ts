/**
 * Multi-valued headers in decisions, delivered whole through a real Envoy: `set-cookie` twice on
 * an allow (`response_headers_to_add`) and on a deny (`headers`), and an upstream request header
 * with two values. docs/decision.md#header-maps describes what Envoy does with each.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { rawValues, request, startSidecar, startUpstream, type Sidecar } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();

const COOKIES = ['a=1; Path=/', 'b=2; Path=/'];

const POLICY = `package envoy.authz

default allow := false

allow := {
	"allowed": true,
	"response_headers_to_add": {"set-cookie": ${JSON.stringify(COOKIES)}, "cache-control": "no-store"},
	"headers": {"x-multi": ["one", "two"], "x-single": "only"},
} if input.parsed_path == ["allow"]

allow := {
	"allowed": true,
	"headers": [{"x-multi": "one"}, {"x-multi": "two"}],
} if input.parsed_path == ["allow-list-form"]

allow := {
	"allowed": true,
	"response_headers_to_add": {"set-cookie": "only=1; Path=/"},
} if input.parsed_path == ["allow-one-cookie"]

allow := {
	"allowed": true,
	"headers": {"x-multi": []},
} if input.parsed_path == ["allow-empty-list"]

allow := {
	"allowed": true,
	"response_headers_to_add": {"cache-control": ["no-store", "private"], "x-foo": ["1", "2"]},
} if input.parsed_path == ["allow-inline"]

allow := {
	"allowed": false,
	"http_status": 401,
	"headers": {"cache-control": ["no-store", "private"], "x-foo": ["1", "2"]},
} if input.parsed_path == ["deny-inline"]

allow := {"allowed": false, "http_status": 302, "headers": {"location": ["/a", "/b"]}} if input.parsed_path == ["two-locations"]

allow := {"allowed": true, "response_headers_to_add": {"content-length": "1"}} if input.parsed_path == ["content-length"]

allow := {"allowed": true, "response_headers_to_add": {"set-cookie": ["a=1\u0001", "b=2"]}} if input.parsed_path == ["control-char"]

allow := {
	"allowed": false,
	"http_status": 401,
	"headers": {"set-cookie": ${JSON.stringify(COOKIES)}, "www-authenticate": "mTLS"},
	"body": "denied\\n",
} if input.parsed_path == ["deny"]
`;

describe.skipIf(tool.skip || opa.skip)(`multi-valued headers through Envoy ${tool.version}`, () => {
  let gatehouse: TestApp;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let sidecar: Sidecar;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-headers-');
    const bundle = buildBundle(opa.opa, { 'policy.rego': POLICY }, path.join(dir, 'bundle.tar.gz'), { restrictBuiltins: false });
    gatehouse = await startTestApp({ bundle }, { client: false });
    upstream = await startUpstream();
    sidecar = await startSidecar({ envoy: tool.envoy, dir, gatehousePort: gatehouse.app.grpcPort, upstreamPort: upstream.port, failureModeAllow: false });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await upstream?.close();
    await gatehouse?.stop();
  });

  it('an allow delivers both set-cookie values to the client, after the upstream\'s own', async () => {
    const reply = await request(sidecar, { path: '/allow' });

    expect(reply.status).toBe(200);
    expect(rawValues(reply.rawHeaders, 'set-cookie')).toEqual(['upstream=1; Path=/', ...COOKIES]);
    expect(rawValues(reply.rawHeaders, 'cache-control')).toEqual(['no-store']);
  });

  it('one set-cookie value is added after the upstream\'s own, never replacing them', async () => {
    const reply = await request(sidecar, { path: '/allow-one-cookie' });

    expect(reply.status).toBe(200);
    expect(rawValues(reply.rawHeaders, 'set-cookie')).toEqual(['upstream=1; Path=/', 'only=1; Path=/']);
  });

  it('an empty list on an allow\'s headers removes the header the client sent', async () => {
    const reply = await request(sidecar, { path: '/allow-empty-list', headers: { 'x-multi': 'forged' } });

    expect(reply.status).toBe(200);
    const seen = upstream.seen.find((r) => rawValues(r.rawHeaders, 'x-request-id')[0] === reply.requestId);
    expect(rawValues(seen!.rawHeaders, 'x-multi')).toEqual([]);
  });

  it('several values of an Envoy built-in header (cache-control) arrive as one comma-joined line; others as lines of their own', async () => {
    const allowed = await request(sidecar, { path: '/allow-inline' });
    expect(allowed.status).toBe(200);
    expect(rawValues(allowed.rawHeaders, 'cache-control')).toEqual(['no-store,private']);
    expect(rawValues(allowed.rawHeaders, 'x-foo')).toEqual(['1', '2']);

    const denied = await request(sidecar, { path: '/deny-inline' });
    expect(denied.status).toBe(401);
    expect(rawValues(denied.rawHeaders, 'cache-control')).toEqual(['no-store,private']);
    expect(rawValues(denied.rawHeaders, 'x-foo')).toEqual(['1', '2']);
  });

  for (const [name, path, reason] of [
    ['two location values', '/two-locations', /\["location"\] has 2 values/],
    ['content-length in response_headers_to_add', '/content-length', /may not set/],
    ['a control character in a set-cookie value', '/control-char', /control character/],
  ] as const) {
    it(`${name}: the decision is invalid, a 403 deny that never reaches the upstream`, async () => {
      const reply = await request(sidecar, { path });

      expect(reply.status).toBe(403);
      expect(upstream.seen.some((r) => rawValues(r.rawHeaders, 'x-request-id')[0] === reply.requestId)).toBe(false);
      await expect.poll(() => gatehouse.decisions.find((d) => d.input?.attributes?.request?.http?.headers?.['x-request-id'] === reply.requestId)?.gatehouse?.reason).toMatch(reason);
    });
  }

  it('an allow sends both values of an upstream header as one comma-joined line, replacing what the client sent', async () => {
    const reply = await request(sidecar, { path: '/allow', headers: { 'x-multi': 'forged', 'x-single': 'forged' } });

    expect(reply.status).toBe(200);
    const seen = upstream.seen.find((r) => rawValues(r.rawHeaders, 'x-request-id')[0] === reply.requestId);
    expect(rawValues(seen!.rawHeaders, 'x-multi')).toEqual(['one,two']);
    expect(rawValues(seen!.rawHeaders, 'x-single')).toEqual(['only']);
  });

  it('the list form of a header map gives the same result', async () => {
    const reply = await request(sidecar, { path: '/allow-list-form', headers: { 'x-multi': 'forged' } });

    const seen = upstream.seen.find((r) => rawValues(r.rawHeaders, 'x-request-id')[0] === reply.requestId);
    expect(rawValues(seen!.rawHeaders, 'x-multi')).toEqual(['one,two']);
  });

  it('a deny delivers both set-cookie values to the client', async () => {
    const reply = await request(sidecar, { path: '/deny' });

    expect(reply.status).toBe(401);
    expect(reply.text).toBe('denied\n');
    expect(rawValues(reply.rawHeaders, 'set-cookie')).toEqual(COOKIES);
    expect(rawValues(reply.rawHeaders, 'www-authenticate')).toEqual(['mTLS']);
  });
});
