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

  it('a single value replaces the upstream\'s header of that name', async () => {
    const reply = await request(sidecar, { path: '/allow-one-cookie' });

    expect(reply.status).toBe(200);
    expect(rawValues(reply.rawHeaders, 'set-cookie')).toEqual(['only=1; Path=/']);
  });

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
