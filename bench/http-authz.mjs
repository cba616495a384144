#!/usr/bin/env node
// What one authorization costs over the HTTP listener (http_addr) against the gRPC Check, with the
// same build, server and policy in one invocation: `gatehouse serve` (dist/, --workers 1, decision
// log off) with both listeners, the benchmark policy and corpus. The gRPC side sends the corpus'
// CheckRequests; the HTTP side sends the same requests as plain HTTP/1.1 (method, path, headers,
// body) on keep-alive connections. Reported per transport: requests/s and server CPU µs per request
// (/proc, the robust number on a shared machine), the answers' statuses, and the ratio HTTP / gRPC.
// HTTP requests carry no SPIFFE principal (the listener has no mTLS identity), so the gRPC requests
// go without theirs too: both sides ask the policy the same questions and get the same decisions.
//   node bench/http-authz.mjs [--requests N] [--concurrency C] [--rounds R]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { authzProtos } from '../dist/grpc/protos.js';
import { POLICY_DIR, makeCorpus } from './corpus.mjs';
import { cpuSeconds, freePort } from './lib/proc.mjs';
import { CheckClient } from './lib/servers.mjs';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 10).map((line) => line.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const root = path.resolve(import.meta.dirname, '..');
const main = path.join(root, 'dist/main.js');
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-http-authz-bench-'));
const bundle = path.join(work, 'bundle.tar.gz');
execFileSync(process.execPath, [main, 'build', '--policies', POLICY_DIR, '--out', bundle], { stdio: 'ignore' });
const data = JSON.parse(readFileSync(path.join(POLICY_DIR, 'data.json'), 'utf8'));
const corpus = makeCorpus(data, 2000).map((request) => ({ ...request, attributes: { ...request.attributes, source: { ...request.attributes.source, principal: undefined, certificate: undefined } } }));
authzProtos();

/** The corpus as HTTP requests: pseudo-headers dropped (node sends its own request line and Host). */
const httpCorpus = corpus.map((request) => {
  const h = request.attributes.request.http;
  const headers = {};
  for (const [name, value] of Object.entries(h.headers)) if (!name.startsWith(':')) headers[name] = value;
  headers.host = h.host;
  return { method: h.method, path: h.path, headers, body: h.body };
});

const grpcPort = await freePort();
const httpPort = await freePort();
const child = spawn(process.execPath, [main, 'serve', '--bundle', bundle, '--addr', `127.0.0.1:${grpcPort}`, '--http-addr', `127.0.0.1:${httpPort}`, '--admin-addr', 'off', '--workers', '1', '--decision-log', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
const exited = new Promise((resolve) => child.once('exit', resolve));
await new Promise((resolve, reject) => {
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    if (stderr.includes('gatehouse is serving')) resolve();
  });
  child.once('exit', () => reject(new Error(`server exited: ${stderr}`)));
});

const grpcClient = new CheckClient(grpcPort);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const statuses = new Map();
const grpcStatuses = new Map();

function ask(request) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, method: request.method, path: request.path, headers: request.headers, agent }, (res) => {
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(request.body);
  });
}

async function drive(send, list, n) {
  let next = 0;
  const lane = async () => {
    while (next < n) await send(list[next++ % list.length]);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

async function measure(name, send, list) {
  await drive(send, list, 2000); // warm-up
  const cpu0 = cpuSeconds(child.pid);
  const t0 = performance.now();
  await drive(send, list, requests);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(child.pid) - cpu0;
  return { transport: name, requestsPerSecond: Math.round(requests / seconds), cpuUsPerRequest: +((cpu * 1e6) / requests).toFixed(1) };
}

const results = [];
try {
  for (let round = 0; round < rounds; round++) {
    const check = async (r) => {
      const { httpStatus } = await grpcClient.check(r);
      grpcStatuses.set(httpStatus, (grpcStatuses.get(httpStatus) ?? 0) + 1);
    };
    for (const [name, send, list] of [['grpc', check, corpus], ['http', ask, httpCorpus]]) {
      const result = await measure(name, send, list);
      results.push(result);
      console.error(JSON.stringify(result));
    }
  }
} finally {
  grpcClient.close();
  agent.destroy();
  child.kill('SIGTERM');
  await exited;
}
const mean = (name, key) => results.filter((r) => r.transport === name).reduce((sum, r) => sum + r[key], 0) / rounds;
console.log(JSON.stringify({
  requests, concurrency, rounds,
  grpc: { requestsPerSecond: Math.round(mean('grpc', 'requestsPerSecond')), cpuUsPerRequest: +mean('grpc', 'cpuUsPerRequest').toFixed(1), statuses: Object.fromEntries(grpcStatuses) },
  http: { requestsPerSecond: Math.round(mean('http', 'requestsPerSecond')), cpuUsPerRequest: +mean('http', 'cpuUsPerRequest').toFixed(1), statuses: Object.fromEntries(statuses) },
  ratio: { cpuPerRequest: +(mean('http', 'cpuUsPerRequest') / mean('grpc', 'cpuUsPerRequest')).toFixed(2) },
}, null, 1));
