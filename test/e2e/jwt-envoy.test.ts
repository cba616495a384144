/**
 * The opa-envoy JWT policy (examples/jwt/v1), built by `gatehouse build`, deciding real HTTP
 * requests through a real Envoy: valid tokens reach the upstream, expired, wrongly signed and
 * wrong-role tokens get Envoy's 403 and never reach it.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../src/policy/build.js';
import { hs256 } from '../support/jwt.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { tempDir } from '../support/policy.js';
import { ROOT, opaOrSkip } from '../support/tools.js';
import { envoyOrSkip } from './envoy.js';
import { rawValues, request, startSidecar, startUpstream, type Sidecar } from './sidecar.js';

const tool = envoyOrSkip();
const opa = opaOrSkip();

const now = Math.floor(Date.now() / 1000);
const sub = Buffer.from('alice').toString('base64url');
const guest = { role: 'guest', sub, nbf: now - 60, exp: now + 3600 };
const admin = { role: 'admin', sub, nbf: now - 60, exp: now + 3600 };

describe.skipIf(tool.skip || opa.skip)(`the opa-envoy JWT policy through Envoy ${tool.version}`, () => {
  let gatehouse: TestApp;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let sidecar: Sidecar;

  beforeAll(async () => {
    const dir = tempDir('gatehouse-jwt-e2e-');
    const bundle = path.join(dir, 'jwt.tar.gz');
    buildBundle({ opa: opa.opa, policies: path.join(ROOT, 'examples/jwt/v1'), out: bundle, entrypoint: 'envoy/authz/allow', log: () => undefined });
    gatehouse = await startTestApp({ bundle }, { client: false });
    upstream = await startUpstream();
    sidecar = await startSidecar({ envoy: tool.envoy, dir, gatehousePort: gatehouse.app.grpcPort, upstreamPort: upstream.port, failureModeAllow: false, maxRequestBytes: 8192 });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await upstream?.close();
    await gatehouse?.stop();
  });

  const reached = (requestId: string) => upstream.seen.some((r) => rawValues(r.rawHeaders, 'x-request-id')[0] === requestId);

  it.each([
    { name: 'a guest reads /people', method: 'GET', token: hs256(guest), status: 200 },
    { name: 'an admin creates someone', method: 'POST', token: hs256(admin), body: '{"firstname":"Charlie"}', status: 200 },
    { name: 'a guest may not create (wrong role)', method: 'POST', token: hs256(guest), body: '{"firstname":"Charlie"}', status: 403 },
    { name: 'an expired token', method: 'GET', token: hs256({ ...guest, exp: now - 5 }), status: 403 },
    { name: 'a wrongly signed token', method: 'GET', token: hs256(guest, 'guessed'), status: 403 },
  ])('$name: $status', async ({ method, token, body, status }) => {
    const reply = await request(sidecar, {
      path: '/people',
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body,
    });
    expect(reply.status).toBe(status);
    expect(reached(reply.requestId)).toBe(status === 200);
  });
});
