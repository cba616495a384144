/**
 * `gatehouse serve --workers 2 --http-addr ...` (the real CLI, dist/main.js): the primary listens on
 * http_addr and hands each HTTP connection to a worker, like gRPC ones (cluster/connections.ts).
 * Every request is answered, both workers answer some, the decision log has a line per request
 * and the primary's /metrics sums the workers' HTTP answers. Bounded: 40 requests.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { serveProcesses, startServe } from '../support/cli.js';
import { HTTP_AUTHZ_POLICY } from '../support/http-authz-policy.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';
import { metricsText, readyz, sumOf } from '../support/workers.js';

const tool = opaOrSkip();

const servers = serveProcesses();

/** One request on its own connection (agent: false), so connections spread over the workers. */
function ask(port: number, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/auth', headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(tool.skip)('serve --workers 2 with http_addr', () => {
  it('the primary hands HTTP authorization connections to the workers; every request is answered and logged', async () => {
    const dir = tempDir();
    const bundle = buildBundle(tool.opa, { 'policy.rego': HTTP_AUTHZ_POLICY }, path.join(dir, 'bundle.tar.gz'), { revision: 'r1', restrictBuiltins: false });
    const log = path.join(dir, 'decisions.log');
    const server = await startServe(bundle, ['--workers', '2', '--http-addr', '127.0.0.1:0', '--http-trusted-proxies', '127.0.0.1', '--decision-log', log]);
    servers.push(server);
    const serving = JSON.parse(server.stderr().split('\n').find((line) => line.includes('gatehouse is serving'))!) as { http_port: number };
    expect(serving.http_port).toBeGreaterThan(0);
    await eventually(async () => (await readyz(server)).ready, 15_000);

    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const allowed = i % 2 === 0;
      const answer = await ask(serving.http_port, { 'x-original-uri': allowed ? '/public' : '/private', 'x-original-method': 'GET' });
      expect(answer.status).toBe(allowed ? 200 : 401);
      if (allowed) expect(answer.headers['x-user']).toBe('alice');
      else expect(answer.body).toBe('login first\n');
      ids.push(answer.headers['x-gatehouse-decision-id'] as string);
    }

    const metrics = await metricsText(server);
    expect(sumOf(metrics, 'gatehouse_http_authz_requests_total')).toBe(40);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { decision_id: string; labels: { worker: string } });
    const logged = new Map(lines.map((line) => [line.decision_id, line.labels.worker]));
    for (const id of ids) expect(logged.has(id)).toBe(true);
    expect(new Set(ids.map((id) => logged.get(id))).size).toBe(2);
  }, 60_000);
});
