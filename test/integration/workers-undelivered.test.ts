/**
 * `gatehouse serve --workers 2` when a worker cannot receive a connection the primary hands it
 * (the real CLI, dist/main.js, a real compiled bundle). Each worker's descriptor limit is lowered
 * (prlimit, util-linux) to 40 more than it has open, so it runs out after some 40 connections, far
 * below max_connections; the kernel then drops the
 * descriptor from the IPC message (MSG_CTRUNC) and node drops the message (NODE_HANDLE_NACK) without
 * telling the primary, which keeps its copy of a connection no worker serves. A single process in
 * that state closes the connections it cannot accept (libuv); the primary must not leave them
 * waiting either: each Check is answered or its connection closed (UNAVAILABLE at the client,
 * counted in gatehouse_connections_refused_total), never left to the client's deadline.
 * Linux: prlimit(1) from util-linux.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { credentials, makeGenericClientConstructor, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { AUTHORIZATION_SERVICE } from '../../src/grpc/check-service.js';
import { eventually } from '../support/app.js';
import { serveProcesses, startServe } from '../support/cli.js';
import { POLICY, connection, metricsText, readyz, series } from '../support/workers.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, checkRequestJson, encodeRequest } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
/** Descriptors each worker may open beyond those it has open when the test starts. */
const SPARE_DESCRIPTORS = 40;
const CONNECTIONS = 120;
/** Far longer than the primary needs to notice (a heartbeat round trip, HEARTBEAT_INTERVAL_MS). */
const DEADLINE_MS = 20_000;

const AuthorizationClient = makeGenericClientConstructor(AUTHORIZATION_SERVICE, 'Authorization');
const servers = serveProcesses();
let clients: Client[] = [];
afterEach(() => {
  for (const client of clients) client.close();
  clients = [];
});

/** One Check on its own connection, without waiting for a connection that fails: the status code. */
function checkOnce(client: Client): Promise<number> {
  return new Promise((resolve) => {
    (client as unknown as Record<string, Function>).Check(encodeRequest(checkRequestJson({ source: CHECKOUT })), { deadline: Date.now() + DEADLINE_MS }, (error: ServiceError | null) =>
      resolve(error ? error.code : status.OK),
    );
  });
}

describe.skipIf(tool.skip)('serve --workers 2: a worker that cannot receive a connection', { timeout: 60_000 }, () => {
  it('leaves no Check waiting: each is answered or its connection closed and counted as refused', async () => {
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(tempDir(), 'bundle.tar.gz'));
    const server = await startServe(bundle, ['--decision-log', 'off', '--workers', '2']);
    servers.push(server);
    await eventually(async () => (await readyz(server)).ready, 15_000);
    for (const { pid } of (await readyz(server)).workers) {
      const limit = readdirSync(`/proc/${pid}/fd`).length + SPARE_DESCRIPTORS;
      execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${limit}:${limit}`]);
    }

    clients = Array.from(
      { length: CONNECTIONS },
      () =>
        new AuthorizationClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure(), {
          'grpc.use_local_subchannel_pool': 1,
          // One connection attempt per client within the test.
          'grpc.initial_reconnect_backoff_ms': 60_000,
          'grpc.min_reconnect_backoff_ms': 60_000,
        }),
    );
    const codes = await Promise.all(clients.map(checkOnce));
    const count = (code: number) => codes.filter((c) => c === code).length;
    expect(count(status.DEADLINE_EXCEEDED)).toBe(0);
    // Both workers ran out of descriptors: some connections were not served.
    expect(count(status.UNAVAILABLE)).toBeGreaterThan(0);
    expect(count(status.OK) + count(status.UNAVAILABLE)).toBe(CONNECTIONS);
    expect(series(await metricsText(server), 'gatehouse_connections_refused_total')).toBeGreaterThanOrEqual(count(status.UNAVAILABLE));

    // With the clients gone the workers have descriptors again and serve new connections.
    for (const client of clients) client.close();
    clients = [];
    await eventually(async () => {
      const client = connection(server);
      try {
        return (await client.check(checkRequestJson({ source: CHECKOUT }))).allowed;
      } catch {
        return false;
      } finally {
        client.close();
      }
    }, 15_000);
  });
});
