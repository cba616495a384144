/**
 * Requests pipelined on one connection of the HTTP authorization listener: decided one at a time,
 * and past a few waiting their turn the connection is no longer read, so a client that sends
 * faster than it is answered cannot grow the listener's backlog (and memory) without bound. The
 * policy here is a stand-in whose evaluations finish when the test says, so that "not answered
 * yet" is a state, not a race; the real pipeline (input, hygiene, decision) runs around it.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvaluablePolicy } from '../../src/authz/authorize.js';
import { createHttpAuthzServer, type HttpAuthzDeps } from '../../src/http-authz/server.js';

let server: Server;
let port: number;
/** Evaluations started and not finished: call one to allow its request. */
const evaluations: (() => void)[] = [];
let parsed = 0;

beforeAll(async () => {
  const policy = {
    revision: 'r1',
    bundle: 'test',
    digest: 'd',
    cachePlan: { enabled: false },
    evaluate: () => [{ result: true }],
    evaluateOffThread: () => new Promise((resolve) => evaluations.push(() => resolve([{ result: true }]))),
  } as unknown as EvaluablePolicy;
  let id = 0;
  const deps = {
    trustDomains: new Set<string>(),
    currentPolicy: () => policy,
    inputOptions: { maxBodyBytes: 1024, xfccTrustedSources: new Set<string>() },
    newDecisionId: () => `d-${++id}`,
    nowNs: () => process.hrtime.bigint(),
    offThread: true,
    record: () => undefined,
    dryRun: false,
    trustedProxies: [],
    maxBodyBytes: 1024,
    maxConnections: 10,
    registry: new Registry(),
    onError: () => undefined,
  } as unknown as HttpAuthzDeps;
  server = createHttpAuthzServer(deps);
  server.on('request', () => parsed++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('HTTP authorization listener: pipelined requests', () => {
  it('are decided one at a time, the connection is not read past a backlog, and every one is answered in order', async () => {
    const count = 10_000; // about 350 KB: several reads' worth
    let requests = '';
    for (let i = 0; i < count; i++) requests += `GET /r/${i} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const socket = net.connect(port, '127.0.0.1');
    let answered = 0;
    let allowed = 0;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      answered += (chunk.match(/HTTP\/1\.1 /g) ?? []).length;
      allowed += (chunk.match(/HTTP\/1\.1 200 /g) ?? []).length;
    });
    socket.write(requests);

    // The first evaluation starts; no other does while it is pending.
    for (let i = 0; i < 200 && evaluations.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(evaluations).toHaveLength(1);
    // Give node every chance to read on (300 ms is far more than reading 350 KB from
    // loopback takes): it stops after about one read's worth of requests waiting their turn.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(evaluations).toHaveLength(1);
    expect(parsed).toBeLessThan(count / 4);

    // Finish evaluations as they start until every request is answered.
    for (let rounds = 0; answered < count && rounds < count * 4; rounds++) {
      evaluations.splice(0).forEach((finish) => finish());
      await new Promise((resolve) => setImmediate(resolve));
    }
    socket.destroy();
    expect(answered).toBe(count);
    expect(allowed).toBe(count);
  }, 60_000);
});
