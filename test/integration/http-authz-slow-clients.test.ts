/**
 * The HTTP authorization listener against slow clients (slowloris): a request whose headers or
 * body do not arrive within the listener's timeouts is answered and its connection closed, even
 * while the client keeps sending. node:http's server, with timeouts shortened through
 * HttpAuthzDeps.timeouts (the listener's are 10 s for headers, 30 s for a request). Bounded: each
 * client writes at most 200 times, 20 ms apart. Both ways a listener gets connections: bound itself
 * (one process) and handed accepted sockets (a cluster worker, as app.ts's injectHttpConnection).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpAuthzServer, type HttpAuthzDeps } from '../../src/http-authz/server.js';
import type { Server } from 'node:http';

let server: Server;
let fed: Server;
let acceptor: net.Server;
const ports = { listening: 0, fed: 0 };

function newServer(): Server {
  // No request completes in these tests, so the pipeline is never reached: no policy is loaded.
  const deps = {
    trustDomains: new Set<string>(),
    currentPolicy: () => undefined,
    inputOptions: {},
    newDecisionId: () => 'd',
    nowNs: () => process.hrtime.bigint(),
    record: () => undefined,
    dryRun: false,
    trustedProxies: [],
    maxBodyBytes: 1024,
    maxConnections: 100,
    registry: new Registry(),
    onError: () => undefined,
    timeouts: { headersMs: 300, requestMs: 600, checkIntervalMs: 100 },
  } as unknown as HttpAuthzDeps;
  return createHttpAuthzServer(deps);
}

beforeAll(async () => {
  server = newServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ports.listening = (server.address() as AddressInfo).port;
  // A cluster worker's listener never binds: it is handed each accepted connection.
  fed = newServer();
  acceptor = net.createServer((socket) => fed.emit('connection', socket));
  await new Promise<void>((resolve) => acceptor.listen(0, '127.0.0.1', resolve));
  ports.fed = (acceptor.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  fed.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => acceptor.close(resolve));
});

/**
 * Sends `head`, then `drip` every 20 ms (at most 200 times) until the server closes the
 * connection; resolves to what the server sent and whether it closed the connection.
 */
function slowClient(port: number, head: string, drip: string): Promise<{ answer: string; closed: boolean }> {
  return new Promise((resolve) => {
    // allowHalfOpen: the server's FIN alone does not end the client's writes; only a closed connection does.
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let answer = '';
    let writes = 0;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      socket.destroy();
      resolve({ answer, closed });
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.write(head);
    const timer = setInterval(() => {
      if (++writes > 200) return finish(false);
      socket.write(drip);
    }, 20);
  });
}

describe.each(['listening', 'fed'] as const)('HTTP authorization listener (%s): slow clients', (how) => {
  it('headers trickled past the headers timeout: answered 408 and the connection closed while the client still sends', async () => {
    const result = await slowClient(ports[how], 'GET /public HTTP/1.1\r\nHost: a\r\n', 'X-Drip: 1\r\n');
    expect(result.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(result.closed).toBe(true);
  });

  it('a body trickled past the request timeout: the connection is closed while the client still sends', async () => {
    const result = await slowClient(ports[how], 'POST /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n', 'x');
    expect(result.closed).toBe(true);
  });
});
