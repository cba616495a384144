/**
 * gatehouse's own listeners (src/listen.ts): accept errors once bound, bind errors naming the
 * address, and a unix socket file a killed process left behind (reused; a live one or a file that
 * is not a socket is not touched).
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOn } from '../../src/listen.js';
import { tempDir } from '../support/policy.js';

const servers: http.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

describe('listenOn', () => {
  it('survives accept errors once bound (emitted as the server\'s error events) and reports them', async () => {
    const server = http.createServer((_request, response) => response.end('ok'));
    servers.push(server);
    const errors: string[] = [];
    const port = await listenOn(server, { kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }, (error) => errors.push(error.message));
    for (const code of ['ENFILE', 'ENOBUFS', 'ENFILE']) server.emit('error', Object.assign(new Error(`accept ${code}`), { code, syscall: 'accept' }));
    expect(errors).toEqual(['accept ENFILE', 'accept ENOBUFS', 'accept ENFILE']);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');
  });

  it('rejects naming the address when it cannot bind', async () => {
    const first = http.createServer();
    servers.push(first);
    const port = await listenOn(first, { kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }, () => undefined);
    const second = http.createServer();
    servers.push(second);
    await expect(listenOn(second, { kind: 'tcp', host: '127.0.0.1', port: port!, text: `127.0.0.1:${port}` }, () => undefined)).rejects.toThrow(`cannot listen on 127.0.0.1:${port}`);
  });

  it('reuses a unix socket path whose process was killed, leaves a live one and a regular file alone', async () => {
    const dir = tempDir();
    const unix = (file: string) => ({ kind: 'unix' as const, path: path.join(dir, file), text: `unix://${path.join(dir, file)}` });

    // A process listening on the path, SIGKILLed: its socket file stays behind.
    const dead = unix('dead.sock');
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(dead.path)}, () => console.log('up'))`]);
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    expect(existsSync(dead.path)).toBe(true);
    const reused = http.createServer((_request, response) => response.end('ok'));
    servers.push(reused);
    await listenOn(reused, dead, () => undefined);
    const answer = await new Promise<string>((resolve, reject) => {
      http.get({ socketPath: dead.path, path: '/' }, (response) => response.on('data', (chunk: Buffer) => resolve(chunk.toString()))).on('error', reject);
    });
    expect(answer).toBe('ok');

    // A socket another server answers on: not taken over.
    const live = unix('live.sock');
    const owner = net.createServer();
    await new Promise<void>((resolve) => owner.listen(live.path, resolve));
    const intruder = http.createServer();
    servers.push(intruder);
    await expect(listenOn(intruder, live, () => undefined)).rejects.toThrow(`cannot listen on ${live.text}`);
    await new Promise<void>((resolve, reject) => net.connect(live.path).once('connect', function (this: net.Socket) { this.destroy(); resolve(); }).once('error', reject));
    owner.close();

    // A regular file: not removed.
    const file = unix('not-a-socket');
    writeFileSync(file.path, 'data');
    const other = http.createServer();
    servers.push(other);
    await expect(listenOn(other, file, () => undefined)).rejects.toThrow(`cannot listen on ${file.text}`);
    expect(existsSync(file.path)).toBe(true);
  });
});
