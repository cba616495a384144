/** The cluster primary's admin listener (src/cluster/primary.ts listenHttp) after it is bound. */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { listenHttp } from '../../src/cluster/primary.js';

const servers: http.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

describe('the primary\'s admin listener', () => {
  it('survives accept errors once bound (emitted as the server\'s error events) and reports them', async () => {
    const server = http.createServer((_request, response) => response.end('ok'));
    servers.push(server);
    const errors: string[] = [];
    const port = await listenHttp(server, { kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }, (error) => errors.push(error.message));
    for (const code of ['ENFILE', 'ENOBUFS', 'ENFILE']) server.emit('error', Object.assign(new Error(`accept ${code}`), { code, syscall: 'accept' }));
    expect(errors).toEqual(['accept ENFILE', 'accept ENOBUFS', 'accept ENFILE']);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');
  });

  it('rejects naming the address when it cannot bind', async () => {
    const first = http.createServer();
    servers.push(first);
    const port = await listenHttp(first, { kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }, () => undefined);
    const second = http.createServer();
    servers.push(second);
    await expect(listenHttp(second, { kind: 'tcp', host: '127.0.0.1', port: port!, text: `127.0.0.1:${port}` }, () => undefined)).rejects.toThrow(`cannot listen on 127.0.0.1:${port}`);
  });
});
