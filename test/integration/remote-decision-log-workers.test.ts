/**
 * Remote decision logs with workers: 2 (the real CLI): the primary writes every worker's lines to
 * both the local decision_log file and the decision-log service (test/support/log-receiver.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { requireBuiltCli, type ServeProcess, startServe } from '../support/cli.js';
import { TestClient } from '../support/grpc-client.js';
import { LogReceiver } from '../support/log-receiver.js';
import { buildBundle, tempDir, CHECKOUT_ONLY_POLICY } from '../support/policy.js';
import { CHECKOUT, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();
requireBuiltCli();

let server: ServeProcess | undefined;
let service: LogReceiver | undefined;
afterEach(async () => {
  server?.child.kill('SIGKILL');
  await service?.close();
});

describe.skipIf(tool.skip)('decision_log_service_url with workers: 2', () => {
  it('ships the lines of both workers through the primary, beside the local file', async () => {
    service = await new LogReceiver().listen();
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': CHECKOUT_ONLY_POLICY }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1' });
    const log = path.join(dir, 'decisions.log');
    server = await startServe(bundle, ['--workers', '2', '--decision-log', log, '--decision-log-service-url', `http://127.0.0.1:${service.port}`]);
    await eventually(async () => ((await (await fetch(`http://127.0.0.1:${server!.adminPort}/readyz`)).json()) as { ready: boolean }).ready, 15_000);
    const clients = Array.from({ length: 4 }, () => new TestClient(`127.0.0.1:${server!.grpcPort}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
    const ids: string[] = [];
    for (let round = 0; round < 5; round++) for (const client of clients) ids.push((await client.check(checkRequestJson({ source: CHECKOUT }))).metadata.decision_id as string);
    for (const client of clients) client.close();
    await eventually(() => service!.events.length >= ids.length, 20_000);
    expect(service.events.map((event) => event.decision_id).sort()).toEqual([...ids].sort());
    expect(new Set(service.events.map((event) => event.labels.worker)).size).toBe(2);
    await eventually(() => existsSync(log) && readFileSync(log, 'utf8').split('\n').filter(Boolean).length >= ids.length);
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line).decision_id).sort()).toEqual([...ids].sort());
  }, 60_000);
});
