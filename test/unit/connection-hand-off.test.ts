/**
 * ConnectionHandOff (src/cluster/connections.ts) with a real listener and real client sockets; the
 * workers are stand-ins that record what they are sent (the integration tests under
 * test/integration/workers*.test.ts run real worker processes).
 */
import net from 'node:net';
import type { Worker } from 'node:cluster';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { eventually } from '../support/app.js';
import { ConnectionHandOff } from '../../src/cluster/connections.js';

/** A worker that takes nothing: it records each connection sent to it. Throws after `limit` sends, as a closed channel would. */
function standIn(limit = 100): Worker & { sent: number[] } {
  const sent: number[] = [];
  return {
    sent,
    send(message: { id: number }, _socket: unknown, _options: unknown, callback: (error: Error | null) => void) {
      if (sent.length >= limit) throw new Error('channel closed');
      sent.push(message.id);
      callback(null);
      return true;
    },
  } as unknown as Worker & { sent: number[] };
}

const clients: net.Socket[] = [];
const handOffs: ConnectionHandOff[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  for (const handOff of handOffs.splice(0)) handOff.close();
});

async function connect(port: number): Promise<void> {
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  clients.push(client);
  await new Promise((resolve) => client.once('connect', resolve));
}

describe('ConnectionHandOff', () => {
  it('hands the connections of a worker that exited to another, even while the exited one is still listed (its exit came before its disconnect)', async () => {
    const a = standIn();
    const b = standIn();
    // The pool lists a worker until its channel is closed, which node may report after its exit.
    const handOff = new ConnectionHandOff({ targets: () => [a, b], maxQueued: 10, onRefused: () => undefined });
    handOffs.push(handOff);
    const port = await handOff.listen({ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
    await connect(port);
    await connect(port);
    await eventually(() => a.sent.length + b.sent.length === 2, 5_000);
    // One each (fewest first); neither has said taken.
    expect([a.sent.length, b.sent.length]).toEqual([1, 1]);

    handOff.workerExited(a);
    expect(a.sent).toHaveLength(1);
    expect(b.sent).toHaveLength(2);
  });

  it('ignores a connection-taken that arrives after the worker\'s exit: the connection stays with the worker it was handed on to', async () => {
    const a = standIn();
    const b = standIn();
    const handOff = new ConnectionHandOff({ targets: () => [a, b], maxQueued: 10, onRefused: () => undefined });
    handOffs.push(handOff);
    const port = await handOff.listen({ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
    await connect(port);
    await eventually(() => a.sent.length + b.sent.length === 1, 5_000);
    const [first, firstId] = a.sent.length === 1 ? [a, a.sent[0]!] : [b, b.sent[0]!];
    const other = first === a ? b : a;
    handOff.workerExited(first);
    expect(other.sent).toHaveLength(1);
    handOff.taken(first, firstId);
    // Still the primary's: only `other` saying taken closes the primary's copy.
    expect(handOff.counts().get(other)).toBe(1);
    handOff.taken(other, other.sent[0]!);
    expect(handOff.counts().get(other)).toBe(1);
    expect(handOff.counts().get(first)).toBe(0);
  });

  it('hands on a connection a worker answered past without taking, and refuses it when every worker failed to receive it', async () => {
    const a = standIn();
    const b = standIn();
    let refused = 0;
    const handOff = new ConnectionHandOff({ targets: () => [a, b], maxQueued: 10, onRefused: (count) => (refused += count) });
    handOffs.push(handOff);
    const port = await handOff.listen({ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
    await connect(port);
    await eventually(() => a.sent.length + b.sent.length === 1, 5_000);
    const first = a.sent.length === 1 ? a : b;
    const other = first === a ? b : a;
    const closed = new Promise((resolve) => clients[0]!.once('close', resolve));

    // A mark taken before the connection was handed covers nothing.
    handOff.answered(first, 0);
    expect(other.sent).toHaveLength(0);
    handOff.answered(first, handOff.mark());
    expect(other.sent).toHaveLength(1);
    expect(refused).toBe(0);
    handOff.answered(other, handOff.mark());
    expect(refused).toBe(1);
    await closed;
  });

  it('survives accept errors on its listener (ENFILE, ENOBUFS: emitted as the server\'s error events) and reports them', async () => {
    const created = vi.spyOn(net, 'createServer');
    const errors: string[] = [];
    const a = standIn();
    const handOff = new ConnectionHandOff({ targets: () => [a], maxQueued: 10, onRefused: () => undefined, onAcceptError: (error) => errors.push(error.message) });
    handOffs.push(handOff);
    const server = created.mock.results[0]!.value as net.Server;
    created.mockRestore();
    const port = await handOff.listen({ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
    for (const code of ['ENFILE', 'ENOBUFS', 'ENFILE']) server.emit('error', Object.assign(new Error(`accept ${code}`), { code, syscall: 'accept' }));
    expect(errors).toEqual(['accept ENFILE', 'accept ENOBUFS', 'accept ENFILE']);
    // Still accepting.
    await connect(port);
    await eventually(() => a.sent.length === 1, 5_000);
  });
});
