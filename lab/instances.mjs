#!/usr/bin/env node
// Many gatehouse instances behind one Envoy (issue 15): N `gatehouse serve` processes as the
// endpoints of one Envoy cluster, fed by one bundle server, configured by the shipped
// deploy/envoy/central.yaml (gRPC health checks, outlier detection, retries on another host)
// with loopback addresses. test/e2e/many-instances.test.ts drives it; run it yourself with
//
//   npm run demo -- --instances 3      (or: node lab/instances.mjs --instances 3)
//
// which kills one instance under load, starts it again, publishes a new bundle revision and
// prints what each instance and Envoy saw. Every server listens on 127.0.0.1; the load is bounded.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { findEnvoy, findOpa, missingTools, ROOT, startProcess, waitFor } from './lab.mjs';

export const ENVOY_CONFIG = path.join(ROOT, 'deploy/envoy/central.yaml');

/** The policy every instance serves: allow GET, deny the rest. The revision differs per bundle. */
const POLICY = 'package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method == "GET"\n';

/**
 * deploy/envoy/central.yaml made runnable on loopback: the listener on 127.0.0.1 (free port), the
 * app cluster on `appPort`, the gatehouse cluster's endpoints the instances' ports (STATIC instead
 * of the headless Service's DNS), active health checks every `healthCheckMs`, and, when given,
 * the Check timeout (and the retries' back-off cap, which Envoy also uses as the per-try timeout)
 * `authzTimeout`. Every other setting is the shipped one.
 * @param {{ appPort: number, gatehousePorts: number[], healthCheckMs: number, authzTimeout?: string }} options
 */
export function envoyConfigFor({ appPort, gatehousePorts, healthCheckMs, authzTimeout }) {
  const config = YAML.parse(readFileSync(ENVOY_CONFIG, 'utf8'));
  const listener = config.static_resources.listeners[0];
  listener.address.socket_address = { address: '127.0.0.1', port_value: 0 };
  const manager = listener.filter_chains[0].filters[0].typed_config;
  const grpcService = manager.http_filters.find((f) => f.name === 'envoy.filters.http.ext_authz').typed_config.grpc_service;
  if (authzTimeout) {
    grpcService.timeout = authzTimeout;
    grpcService.retry_policy.retry_back_off.max_interval = authzTimeout;
  }
  const cluster = (name) => config.static_resources.clusters.find((c) => c.name === name);
  cluster('app').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = appPort;
  const gatehouse = cluster('gatehouse');
  gatehouse.type = 'STATIC';
  delete gatehouse.dns_lookup_family;
  gatehouse.load_assignment.endpoints = [{ lb_endpoints: gatehousePorts.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })) }];
  const interval = `${healthCheckMs / 1000}s`;
  Object.assign(gatehouse.health_checks[0], { interval, no_traffic_interval: interval });
  config.admin = { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } };
  return config;
}

/** Compile POLICY into `out` with `revision` (gatehouse build, the pinned OPA). */
function buildBundle(dir, revision) {
  const source = path.join(dir, `policy-${revision}`);
  mkdirSync(source, { recursive: true });
  writeFileSync(path.join(source, 'authz.rego'), `${POLICY}# ${revision}\n`);
  const out = path.join(dir, `${revision}.tar.gz`);
  const build = spawnSync(process.execPath, [path.join(ROOT, 'dist/main.js'), 'build', '--policies', source, '--out', out, '--opa', /** @type {string} */ (findOpa()), '--revision', revision], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`gatehouse build failed:\n${build.stdout}${build.stderr}`);
  return readFileSync(out);
}

/** An HTTP server on a free loopback port; resolves to its port. */
async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  return /** @type {import('node:net').AddressInfo} */ (server.address()).port;
}

/**
 * Start the bundle server, the app, `count` gatehouse instances and Envoy in front of them.
 * @param {{ count?: number, pollMinMs?: number, pollMaxMs?: number, healthCheckMs?: number, authzTimeout?: string, log?: (line: string) => void }} [options]
 */
export async function startInstances(options = {}) {
  const { count = 3, pollMinMs = 500, pollMaxMs = 1500, healthCheckMs = 100, authzTimeout, log = () => {} } = options;
  const missing = missingTools();
  if (missing.length > 0) throw new Error(`the instances lab cannot start:\n  ${missing.join('\n  ')}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-instances-'));
  const procs = /** @type {ReturnType<typeof startProcess>[]} */ ([]);

  log('compiling two revisions of the policy (r1, r2)');
  const bundles = { r1: buildBundle(dir, 'r1'), r2: buildBundle(dir, 'r2') };
  let published = 'r1';
  const bundleServer = createServer((req, res) => {
    const etag = `"${published}"`;
    if (req.headers['if-none-match'] === etag) res.writeHead(304).end();
    else res.writeHead(200, { etag, 'content-type': 'application/gzip' }).end(bundles[/** @type {'r1' | 'r2'} */ (published)]);
  });
  const bundleUrl = `http://127.0.0.1:${await listen(bundleServer)}/bundle.tar.gz`;
  const app = createServer((req, res) => req.resume().on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')));
  const appPort = await listen(app);

  /** @type {Array<{ name: string, grpcPort: number, adminPort: number, proc: ReturnType<typeof startProcess> }>} */
  const instances = [];
  const startInstance = async (index, grpcPort = 0) => {
    const name = `gatehouse-${index}`;
    const proc = startProcess(name, process.execPath, [
      path.join(ROOT, 'dist/main.js'), 'serve', '--bundle', bundleUrl, '--instance', name, '--workers', '1',
      '--addr', `127.0.0.1:${grpcPort}`, '--admin-addr', '127.0.0.1:0', '--decision-log', 'stdout',
      '--bundle-poll-min-ms', String(pollMinMs), '--bundle-poll-max-ms', String(pollMaxMs), '--shutdown-drain-ms', '0',
    ]);
    procs.push(proc);
    const serving = await waitFor(`${name} to serve`, () => {
      if (!proc.running) throw new Error(`${name} exited during start-up:\n${proc.stderr.join('\n')}`);
      return proc.stderr.map((line) => JSON.parse(line)).find((entry) => typeof entry.msg === 'string' && entry.msg.startsWith('gatehouse is serving'));
    }, 20_000);
    instances[index] = { name, grpcPort: serving.grpc_port, adminPort: serving.admin_port, proc };
  };
  for (let i = 0; i < count; i++) await startInstance(i);
  log(`${count} gatehouse instances on ${instances.map((i) => `127.0.0.1:${i.grpcPort}`).join(', ')}, polling ${bundleUrl}`);

  const configFile = path.join(dir, 'envoy.yaml');
  writeFileSync(configFile, YAML.stringify(envoyConfigFor({ appPort, gatehousePorts: instances.map((i) => i.grpcPort), healthCheckMs, authzTimeout })));
  const adminFile = path.join(dir, 'envoy-admin');
  const envoy = startProcess('envoy', /** @type {string} */ (findEnvoy()), [
    '-c', configFile, '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warn', '--admin-address-path', adminFile,
  ]);
  procs.push(envoy);
  const envoyAdmin = await waitFor("Envoy's admin address", () => {
    if (!envoy.running) throw new Error(`Envoy exited:\n${envoy.stderr.join('\n')}`);
    try {
      return readFileSync(adminFile, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }, 20_000);
  const envoyPort = await waitFor("Envoy's listener", async () => {
    const response = await fetch(`http://${envoyAdmin}/listeners?format=json`).catch(() => undefined);
    const body = response?.ok ? await response.json() : undefined;
    return body?.listener_statuses?.[0]?.local_address?.socket_address?.port_value || undefined;
  }, 20_000);

  const lab = {
    dir,
    instances,
    envoyPort,
    envoyAdminPort: Number(envoyAdmin.split(':').pop()),
    /** Envoy's view of the gatehouse hosts (active health checks): gRPC port → healthy. */
    async hostHealth() {
      const body = await (await fetch(`http://${envoyAdmin}/clusters?format=json`)).json();
      const cluster = body.cluster_statuses.find((c) => c.name === 'gatehouse');
      return new Map((cluster.host_statuses ?? []).map((h) => [h.address.socket_address.port_value, h.health_status.failed_active_health_check !== true]));
    },
    async allHealthy() {
      const health = await lab.hostHealth();
      return health.size === instances.length && [...health.values()].every(Boolean);
    },
    /** One Envoy counter, e.g. cluster.gatehouse.upstream_rq_retry_success. */
    async envoyCounter(name) {
      const text = await (await fetch(`http://${envoyAdmin}/stats?filter=${encodeURIComponent(`^${name.replaceAll('.', '\\.')}$`)}`)).text();
      return Number(/: (\d+)/.exec(text)?.[1] ?? 0);
    },
    /** An instance's Checks allowed by the policy so far and its active revision, from its /metrics. */
    async metrics(index) {
      const text = await (await fetch(`http://127.0.0.1:${instances[index].adminPort}/metrics`)).text();
      return {
        allowed: Number(/gatehouse_decisions_total\{outcome="allow",reason="policy_allowed"\} (\d+)/.exec(text)?.[1] ?? 0),
        revision: /gatehouse_policy_info\{revision="([^"]+)"\} 1/.exec(text)?.[1],
      };
    },
    /** An instance's decision-log lines so far. */
    decisions(index) {
      return instances[index].proc.stdout.map((line) => JSON.parse(line));
    },
    /** SIGKILL, no drain: the instance's connections reset with Checks in flight. */
    async kill(index) {
      await instances[index].proc.stop('SIGKILL');
    },
    /** Start a killed instance again on its gRPC port, as a replacement pod would come back. */
    async restart(index) {
      await startInstance(index, instances[index].grpcPort);
    },
    /** Serve another revision from the bundle server; the instances pick it up at their next poll. */
    publish(revision) {
      published = revision;
    },
    /**
     * `clients` loops of GET /orders through Envoy, back to back, until stop() or `maxMs`
     * (a bound, whichever comes first). statuses counts responses by HTTP status (0: none).
     */
    load(clients, maxMs = 120_000) {
      const statuses = new Map();
      const deadline = Date.now() + maxMs;
      let running = true;
      const one = () => new Promise((resolve) => {
        fetch(`http://127.0.0.1:${envoyPort}/orders`).then(async (response) => {
          await response.arrayBuffer();
          resolve(response.status);
        }, () => resolve(0));
      });
      const done = Promise.all(Array.from({ length: clients }, async () => {
        while (running && Date.now() < deadline) {
          const status = await one();
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }));
      return {
        statuses,
        sent: () => [...statuses.values()].reduce((a, b) => a + b, 0),
        async stop() {
          running = false;
          await done;
        },
      };
    },
    async stop() {
      await Promise.all(procs.map((proc) => proc.stop()));
      bundleServer.closeAllConnections();
      app.closeAllConnections();
      await Promise.all([bundleServer, app].map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))));
      if (process.env.LAB_KEEP === '1') log(`lab files kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
  await waitFor('Envoy to see every instance healthy', () => lab.allHealthy(), 20_000);
  return lab;
}

/** The walk-through for a person: `npm run demo -- --instances N`. */
export async function demo(count) {
  const say = (text = '') => console.log(text);
  say(`gatehouse: ${count} instances behind one Envoy (deploy/envoy/central.yaml on loopback)`);
  const lab = await startInstances({ count, log: (line) => say(`  lab: ${line}`) });
  const table = async () => {
    for (const [i, instance] of lab.instances.entries()) {
      const { allowed, revision } = await lab.metrics(i).catch(() => ({ allowed: '-', revision: 'down' }));
      say(`    ${instance.name} :${instance.grpcPort}  healthy in Envoy: ${(await lab.hostHealth()).get(instance.grpcPort)}  allowed: ${allowed}  revision: ${revision}`);
    }
  };
  const load = lab.load(6, 60_000);
  try {
    await waitFor('load to reach every instance', async () => (await Promise.all(lab.instances.map((_, i) => lab.metrics(i)))).every((m) => m.allowed >= 50), 30_000);
    say('\n1. Six clients send GET /orders through Envoy; every instance takes a share:');
    await table();

    say('\n2. gatehouse-1 is killed with SIGKILL (no drain) under that load:');
    await lab.kill(1);
    await waitFor('Envoy to take gatehouse-1 out', async () => (await lab.hostHealth()).get(lab.instances[1].grpcPort) === false, 20_000);
    const afterKill = load.sent();
    await waitFor('300 more requests', () => load.sent() >= afterKill + 300, 30_000);
    await table();
    say(`    Envoy retried ${await lab.envoyCounter('cluster.gatehouse.upstream_rq_retry_success')} Checks on another instance; ${await lab.envoyCounter('http.async-client.rq_reset_after_downstream_response_started')} were cut off mid-response (not retriable), ${await lab.envoyCounter('cluster.gatehouse.upstream_rq_timeout')} timed out; responses so far: ${JSON.stringify(Object.fromEntries(load.statuses))}`);

    say('\n3. gatehouse-1 starts again on its port and takes its share back:');
    await lab.restart(1);
    await waitFor('every instance healthy', () => lab.allHealthy(), 20_000);
    await waitFor('gatehouse-1 to take Checks', async () => (await lab.metrics(1)).allowed >= 50, 30_000);
    await table();

    say('\n4. Revision r2 is published on the bundle server; each instance switches at its next poll:');
    const published = Date.now();
    lab.publish('r2');
    for (const [i, instance] of lab.instances.entries()) {
      await waitFor(`${instance.name} to serve r2`, async () => (await lab.metrics(i)).revision === 'r2', 20_000);
      say(`    ${instance.name} serves r2 (${Date.now() - published} ms after publishing)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await load.stop();

    say('\n5. The last decision-log line of each instance:');
    for (const [i] of lab.instances.entries()) {
      const line = lab.decisions(i).at(-1);
      say(`    labels.instance=${line?.labels?.instance}  bundles.main.revision=${line?.bundles?.main?.revision}  decision_id=${line?.decision_id}`);
    }
    const failed = load.sent() - (load.statuses.get(200) ?? 0);
    say(`\n${load.sent()} requests, ${failed} failed.`);
    return failed === 0 ? 0 : 1;
  } finally {
    await load.stop();
    await lab.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const flag = process.argv.indexOf('--instances');
  const count = flag === -1 ? 3 : Number(process.argv[flag + 1]);
  if (!Number.isInteger(count) || count < 2 || count > 8) {
    console.error('usage: node lab/instances.mjs [--instances N]   (N from 2 to 8)');
    process.exit(2);
  }
  process.exit(await demo(count));
}
