/**
 * `gatehouse serve --workers 2` (the real CLI, dist/main.js) under load from 16 connections with
 * decision lines from 100 bytes to 60 KB, stopped with SIGTERM mid-load: the one decision-log file
 * holds whole lines only, and every Check a client got an answer for has its line. Bounded: 3 s of
 * load, then the drain (1.5 s).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { serveProcesses, startServe } from '../support/cli.js';
import { TestClient } from '../support/grpc-client.js';
import { buildBundle, tempDir, CHECKOUT_ONLY_POLICY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const servers = serveProcesses();

describe.skipIf(tool.skip)('serve --workers 2: decision log under load and SIGTERM', () => {
  it('keeps every line whole and logs every answered Check', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const log = path.join(dir, 'decisions.log');
    const server = await startServe(bundle, ['--workers', '2', '--decision-log', log, '--shutdown-drain-ms', '1500']);
    servers.push(server);
    await eventually(async () => ((await (await fetch(`http://127.0.0.1:${server.adminPort}/readyz`)).json()) as { ready: boolean }).ready, 15_000);
    const clients = Array.from({ length: 16 }, () => new TestClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
    const answered: string[] = [];
    let failures = 0;
    let stop = false;
    const loop = async (client: TestClient, i: number) => {
      for (let k = 0; !stop && failures < 2000; k++) {
        const size = [100, 3000, 20_000, 60_000][(i + k) % 4]!;
        try {
          const reply = await client.check(checkRequestJson({ source: CHECKOUT, headers: { 'x-pad': 'p'.repeat(size) } }));
          answered.push(reply.metadata.decision_id as string);
        } catch {
          failures++; // refused after the drain: not answered, so no line is expected
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    };
    const loops = clients.map((client, i) => loop(client, i));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    stop = true;
    await Promise.all(loops);
    for (const client of clients) client.close();

    const text = readFileSync(log, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const logged = new Set(text.split('\n').filter((line) => line !== '').map((line) => (JSON.parse(line) as { decision_id: string }).decision_id));
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.filter((id) => !logged.has(id))).toEqual([]);
  }, 60_000);
});
