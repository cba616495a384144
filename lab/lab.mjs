#!/usr/bin/env node
// The lab: a small SPIFFE mesh on one machine, used by the end-to-end tests (test/e2e) and by
// `npm run demo`. startLab() creates a test CA, issues X.509-SVIDs, starts the workloads' HTTP
// services, one Envoy sidecar per workload (envoy/*.yaml) and gatehouse, all on 127.0.0.1 with
// free ports, and stop() tears everything down (so does the process exiting).
//
//   node lab/lab.mjs up                  start the lab and keep it running until Ctrl-C
//   node lab/lab.mjs render <workload>   print one sidecar's rendered Envoy configuration
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { startApp } from './app.mjs';
import { renderSidecar } from './envoy-config.mjs';
import { createCa, findOpenssl, issueSvid } from './pki.mjs';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const TRUST_DOMAIN = 'mesh.local';
const SETUP_HINT = 'run "./dev setup"';

/** The mesh: who exists, and who serves requests (has an inbound sidecar). */
export const WORKLOADS = {
  gateway: { spiffeId: `spiffe://${TRUST_DOMAIN}/ns/edge/sa/gateway`, serves: false },
  checkout: { spiffeId: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/checkout`, serves: true },
  inventory: { spiffeId: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/inventory`, serves: true },
  payments: { spiffeId: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/payments`, serves: true },
  prober: { spiffeId: `spiffe://${TRUST_DOMAIN}/ns/ops/sa/prober`, serves: false },
};

/**
 * Client identities that are not workloads: for calling an inbound sidecar directly.
 * evil: a certificate the mesh CA signed for another trust domain (a mis-issued or federated
 * identity: TLS accepts it, the policy must not). rogue: the right SPIFFE ID from the wrong CA.
 */
export const OUTSIDERS = {
  evil: { spiffeId: 'spiffe://evil.example/ns/shop/sa/checkout', ca: 'mesh' },
  rogue: { spiffeId: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/checkout`, ca: 'rogue' },
};

/** Policy variants the lab can serve: the project's example and a deliberately broken one. */
export const POLICIES = {
  hardened: { description: 'policies/ as shipped: callers named one by one', extra: [] },
  wildcard: { description: 'policies/ plus lab/policies/wildcard-callers.rego (trusts any */ns/shop/* caller)', extra: ['lab/policies/wildcard-callers.rego'] },
};

// ---------------------------------------------------------------------------------------------
// Tools

/** The pinned Envoy installed by scripts/ensure-envoy.sh, $ENVOY_BIN, or undefined. */
export function findEnvoy() {
  if (process.env.ENVOY_BIN) return existsSync(process.env.ENVOY_BIN) ? process.env.ENVOY_BIN : undefined;
  const lib = path.join(ROOT, '.venv/lib');
  if (!existsSync(lib)) return undefined;
  for (const python of readdirSync(lib).filter((name) => name.startsWith('python3')).sort()) {
    const binary = path.join(lib, python, 'site-packages/envoy/_bin/envoy');
    if (existsSync(binary)) return binary;
  }
  return undefined;
}

export function findOpa() {
  const local = path.join(ROOT, '.tools/bin/opa');
  return existsSync(local) ? local : undefined;
}

/** Everything the lab needs, or the list of what is missing with the command that installs it. */
export function missingTools() {
  const missing = [];
  if (!findEnvoy()) missing.push(`Envoy not found (.venv from scripts/ensure-envoy.sh): ${SETUP_HINT}`);
  if (!findOpa()) missing.push(`OPA not found (.tools/bin/opa): ${SETUP_HINT}`);
  if (!existsSync(path.join(ROOT, 'dist/main.js'))) missing.push(`gatehouse is not built (dist/main.js): ${SETUP_HINT}`);
  try {
    findOpenssl();
  } catch (error) {
    missing.push(/** @type {Error} */ (error).message);
  }
  return missing;
}

export function envoyVersion(binary = findEnvoy()) {
  if (!binary) return undefined;
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /version: \S+\/(\d+\.\d+\.\d+)\//.exec(out)?.[1] ?? out.trim();
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/**
 * Distinct free loopback ports, chosen below the kernel's ephemeral range so that nothing binding
 * port 0 (gatehouse, Envoy's admin API, other tests) or opening an outgoing connection can take
 * one between now and the moment a sidecar binds it. Each is checked by binding it; all are held
 * open together, so no two are the same.
 */
async function freePorts(count) {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: keep the IANA default
  }
  const floor = 10_000;
  const held = [];
  const listen = (port) => new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
  for (let tries = 0; held.length < count && tries < count * 50; tries++) {
    const port = low > floor + 1000 ? floor + Math.floor(Math.random() * (low - floor)) : 0;
    const server = await listen(port);
    if (server) held.push(server);
  }
  if (held.length < count) throw new Error(`could not find ${count} free loopback ports`);
  const ports = held.map((server) => /** @type {net.AddressInfo} */ (server.address()).port);
  await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Poll `probe` until it returns something other than undefined/false, or throw after timeoutMs. */
export async function waitFor(what, probe, timeoutMs = 10_000, intervalMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function readJsonLines(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
}

/** A child process whose output lines are collected; stop() ends it and waits. */
export function startProcess(name, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const proc = {
    name,
    child,
    stdout: /** @type {string[]} */ ([]),
    stderr: /** @type {string[]} */ ([]),
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    running: true,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (!proc.running) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await proc.exited;
      clearTimeout(timer);
    },
  };
  proc.exited.then(() => {
    proc.running = false;
    liveProcesses.delete(proc);
  });
  liveProcesses.add(proc);
  for (const [stream, into] of /** @type {const} */ ([[child.stdout, proc.stdout], [child.stderr, proc.stderr]])) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line) into.push(line);
    });
  }
  return proc;
}

// Whatever happens to the process running the lab, its children go with it.
const liveProcesses = new Set();
process.on('exit', () => {
  for (const proc of liveProcesses) proc.child.kill('SIGKILL');
});

// ---------------------------------------------------------------------------------------------
// Policies

/** Compile one policy variant into `out`; returns its revision ("<variant>:<hash of the sources>"). */
function buildPolicy(variant, workDir, out) {
  const source = path.join(workDir, `policy-${variant}`);
  mkdirSync(source, { recursive: true });
  const files = readdirSync(path.join(ROOT, 'policies'))
    .filter((file) => !file.endsWith('_test.rego'))
    .map((file) => path.join(ROOT, 'policies', file))
    .concat(POLICIES[variant].extra.map((extra) => path.join(ROOT, extra)));
  const hash = createHash('sha256');
  for (const file of files) {
    copyFileSync(file, path.join(source, path.basename(file)));
    hash.update(path.basename(file)).update('\0').update(readFileSync(file)).update('\0');
  }
  const revision = `${variant}:${hash.digest('hex').slice(0, 12)}`;
  const build = spawnSync(
    process.execPath,
    [path.join(ROOT, 'dist/main.js'), 'build', '--policies', source, '--out', out, '--opa', /** @type {string} */ (findOpa()), '--revision', revision],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (build.status !== 0) throw new Error(`compiling the ${variant} policy failed:\n${build.stdout}${build.stderr}`);
  return revision;
}

// ---------------------------------------------------------------------------------------------
// The lab

/**
 * @param {{ policy?: keyof typeof POLICIES, log?: (line: string) => void }} [options]
 */
export async function startLab(options = {}) {
  // Another process can still grab a chosen port before a sidecar binds it; start afresh then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLabOnce(options);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (attempt >= 3 || !/Address already in use|EADDRINUSE/.test(message)) throw error;
      options.log?.(`a port was taken during start-up; starting again (${message.split('\n')[0]})`);
    }
  }
}

/** @param {{ policy?: keyof typeof POLICIES, log?: (line: string) => void }} options */
async function startLabOnce(options) {
  const missing = missingTools();
  if (missing.length > 0) throw new Error(`the lab cannot start:\n  ${missing.join('\n  ')}`);
  const envoy = /** @type {string} */ (findEnvoy());
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-lab-'));
  const procs = /** @type {ReturnType<typeof startProcess>[]} */ ([]);
  const apps = /** @type {Awaited<ReturnType<typeof startApp>>[]} */ ([]);
  /** Every decision-log event gatehouse wrote, across restarts. */
  const decisions = /** @type {Record<string, any>[]} */ ([]);

  const lab = {
    dir,
    envoy,
    envoyVersion: envoyVersion(envoy),
    decisions,
    /** @type {Record<string, { spiffeId: string, serves: boolean, cert: string, key: string, appPort?: number, inboundPort?: number, outbound: Record<string, number>, adminPort: number, accessLog: string, app?: Awaited<ReturnType<typeof startApp>> }>} */
    workloads: {},
    /** @type {Record<string, { spiffeId: string, cert: string, key: string }>} */
    outsiders: {},
    meshCa: '',
    bundle: path.join(dir, 'bundle.tar.gz'),
    /** @type {Record<string, { file: string, revision: string }>} */
    policies: {},
    policy: options.policy ?? 'hardened',
    gatehouse: {
      grpcPort: 0,
      adminPort: 0,
      /** @type {ReturnType<typeof startProcess> | undefined} */
      proc: undefined,
      get running() {
        return lab.gatehouse.proc?.running ?? false;
      },
      /** Start (or restart, on the same gRPC port) gatehouse serving lab.bundle. */
      async start() {
        const proc = startProcess('gatehouse', process.execPath, [
          path.join(ROOT, 'dist/main.js'), 'serve',
          '--bundle', lab.bundle,
          '--addr', `127.0.0.1:${lab.gatehouse.grpcPort}`,
          '--admin-addr', '127.0.0.1:0',
          '--decision-log', 'stdout',
          '--reload-debounce-ms', '50',
          // One gatehouse, nowhere to drain to: stop at once (lab.gatehouse.stop waits 5 s, then SIGKILLs).
          '--shutdown-drain-ms', '0',
        ]);
        procs.push(proc);
        lab.gatehouse.proc = proc;
        let seen = 0;
        proc.child.stdout.on('data', () => {
          for (; seen < proc.stdout.length; seen++) decisions.push(JSON.parse(/** @type {string} */ (proc.stdout[seen])));
        });
        const serving = await waitFor('gatehouse to serve', () => {
          if (!proc.running) throw new Error(`gatehouse exited during start-up:\n${proc.stderr.join('\n')}`);
          // "gatehouse is serving", "... (TLS)", "... with 2 workers" (workers: auto runs a cluster primary).
          return proc.stderr.map((line) => JSON.parse(line)).find((entry) => typeof entry.msg === 'string' && entry.msg.startsWith('gatehouse is serving'));
        });
        lab.gatehouse.grpcPort = serving.grpc_port;
        lab.gatehouse.adminPort = serving.admin_port;
      },
      /** SIGTERM gatehouse and wait until it exited. */
      async stop() {
        await lab.gatehouse.proc?.stop();
      },
      /** gatehouse's /readyz document. */
      async readyz() {
        const response = await fetch(`http://127.0.0.1:${lab.gatehouse.adminPort}/readyz`);
        return /** @type {Record<string, any>} */ (await response.json());
      },
    },

    /**
     * Serve another policy variant: the bundle file is replaced by an atomic rename, as a
     * deployment pipeline would do; resolves when gatehouse reports the new revision.
     * @param {keyof typeof POLICIES} variant
     */
    async usePolicy(variant) {
      const { file, revision } = lab.policies[variant];
      const temporary = `${lab.bundle}.${process.pid}.tmp`;
      copyFileSync(file, temporary);
      renameSync(temporary, lab.bundle);
      lab.policy = variant;
      await waitFor(`gatehouse to load the ${variant} policy (${revision})`, async () => (await lab.gatehouse.readyz()).policy?.revision === revision);
    },

    /**
     * A call made by `from`'s application to `to`, through both sidecars:
     * app → from's outbound listener → mTLS → to's inbound sidecar → ext_authz → to's app.
     * @param {string} from @param {string} to
     * @param {{ method?: string, path?: string, headers?: Record<string, string>, body?: string }} [request]
     */
    call(from, to, request = {}) {
      const port = lab.workloads[from]?.outbound[to];
      if (!port) throw new Error(`${from} has no outbound listener for ${to}`);
      return httpCall(http, { host: '127.0.0.1', port, agent: false }, request);
    },

    /**
     * A call straight to `to`'s inbound sidecar with chosen client credentials: a workload's
     * SVID, an outsider's (evil, rogue), or none. Used for what a sidecar would never send.
     * TLS failures resolve to { error } instead of a response.
     * @param {string} to
     * @param {string | 'none'} client
     * @param {{ method?: string, path?: string, headers?: Record<string, string>, body?: string }} [request]
     */
    callDirect(to, client, request = {}) {
      const target = lab.workloads[to];
      if (!target?.inboundPort) throw new Error(`${to} does not serve requests`);
      const identity = client === 'none' ? undefined : (lab.workloads[client] ?? lab.outsiders[client]);
      if (client !== 'none' && !identity) throw new Error(`unknown client identity ${client}`);
      return httpCall(https, {
        host: '127.0.0.1',
        port: target.inboundPort,
        agent: false,
        ca: readFileSync(lab.meshCa),
        ...(identity ? { cert: readFileSync(identity.cert), key: readFileSync(identity.key) } : {}),
        // The server must prove it is `to`: its URI SAN, not a DNS name, is its identity.
        checkServerIdentity: (_host, cert) => {
          const want = `URI:${target.spiffeId}`;
          return cert.subjectaltname === want ? undefined : new Error(`server identity ${cert.subjectaltname} is not ${want}`);
        },
      }, request);
    },

    /** Envoy access-log lines of one sidecar (both directions). */
    accessLog(workload) {
      return readJsonLines(lab.workloads[workload].accessLog);
    },

    /** The access-log line a sidecar wrote for a request id, waiting for Envoy to flush it. */
    accessLogFor(workload, requestId, direction = 'inbound') {
      return waitFor(`${workload}'s ${direction} access-log line for ${requestId}`, () =>
        lab.accessLog(workload).find((line) => line.request_id === requestId && line.direction === direction),
      );
    },

    /** gatehouse's decision-log event for a request id (matched on the x-request-id Envoy sent). */
    decisionFor(requestId) {
      return waitFor(`gatehouse's decision-log line for ${requestId}`, () =>
        decisions.find((event) => event.input?.attributes?.request?.http?.headers?.['x-request-id'] === requestId),
      );
    },

    /** A sidecar's Envoy stats as a name → value map. */
    async envoyStats(workload, filter) {
      const response = await fetch(`http://127.0.0.1:${lab.workloads[workload].adminPort}/stats?format=json&filter=${encodeURIComponent(filter)}`);
      const { stats } = /** @type {{ stats: Array<{ name: string, value?: number }> }} */ (await response.json());
      return Object.fromEntries(stats.filter((stat) => stat.value !== undefined).map((stat) => [stat.name, stat.value]));
    },

    /** Stop every process, close the apps, delete the lab folder (kept with LAB_KEEP=1). */
    async stop() {
      await Promise.all(procs.map((proc) => proc.stop()));
      await Promise.all(apps.map((app) => app.close()));
      if (process.env.LAB_KEEP === '1') log(`lab files kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    // 1. PKI: the mesh CA, an SVID per workload, and the outsiders' certificates.
    log('creating the mesh CA and X.509-SVIDs (openssl)');
    const pki = path.join(dir, 'pki');
    mkdirSync(pki);
    const meshCa = createCa(pki, 'mesh-ca', TRUST_DOMAIN);
    const rogueCa = createCa(pki, 'rogue-ca', TRUST_DOMAIN);
    lab.meshCa = meshCa.cert;
    for (const [name, outsider] of Object.entries(OUTSIDERS)) {
      lab.outsiders[name] = issueSvid(pki, name, outsider.spiffeId, outsider.ca === 'mesh' ? meshCa : rogueCa);
    }

    // 2. Ports: an app and an inbound listener per serving workload, an outbound listener per
    //    (caller, callee) pair. gatehouse and the Envoy admin APIs bind port 0 themselves.
    const servers = Object.keys(WORKLOADS).filter((name) => WORKLOADS[name].serves);
    const names = Object.keys(WORKLOADS);
    const ports = await freePorts(servers.length * 2 + names.length * servers.length);
    const take = () => /** @type {number} */ (ports.pop());
    for (const [name, workload] of Object.entries(WORKLOADS)) {
      const svid = issueSvid(pki, name, workload.spiffeId, meshCa);
      lab.workloads[name] = {
        spiffeId: workload.spiffeId,
        serves: workload.serves,
        cert: svid.cert,
        key: svid.key,
        ...(workload.serves ? { appPort: take(), inboundPort: take() } : {}),
        outbound: Object.fromEntries(servers.filter((to) => to !== name).map((to) => [to, take()])),
        adminPort: 0,
        accessLog: path.join(dir, `${name}.access.log`),
      };
    }

    // 3. Policies, then gatehouse serving the chosen one.
    log('compiling the policy variants (opa build -t wasm)');
    for (const variant of Object.keys(POLICIES)) {
      const file = path.join(dir, 'bundles', `${variant}.tar.gz`);
      lab.policies[variant] = { file, revision: buildPolicy(variant, dir, file) };
    }
    copyFileSync(lab.policies[lab.policy].file, lab.bundle);
    log('starting gatehouse');
    await lab.gatehouse.start();

    // 4. Applications and sidecars.
    log(`starting ${servers.length} services and ${names.length} Envoy ${lab.envoyVersion} sidecars`);
    for (const name of servers) {
      const app = await startApp(name, /** @type {number} */ (lab.workloads[name].appPort));
      apps.push(app);
      lab.workloads[name].app = app;
    }
    await Promise.all(names.map(async (name) => {
      const workload = lab.workloads[name];
      const config = renderSidecar({
        workload: name,
        trustDomain: TRUST_DOMAIN,
        meshCa: meshCa.cert,
        svidCert: workload.cert,
        svidKey: workload.key,
        accessLog: workload.accessLog,
        gatehousePort: lab.gatehouse.grpcPort,
        ...(workload.inboundPort ? { inbound: { port: workload.inboundPort, appPort: /** @type {number} */ (workload.appPort) } } : {}),
        outbound: Object.entries(workload.outbound).map(([to, localPort]) => ({
          name: to,
          spiffeId: lab.workloads[to].spiffeId,
          port: /** @type {number} */ (lab.workloads[to].inboundPort),
          localPort,
        })),
      });
      const configFile = path.join(dir, `${name}.envoy.yaml`);
      writeFileSync(configFile, YAML.stringify(config));
      const adminFile = path.join(dir, `${name}.admin-address`);
      const proc = startProcess(`envoy ${name}`, envoy, [
        '--config-path', configFile,
        '--disable-hot-restart', // several Envoys on one host without shared-memory clashes
        '--concurrency', '1',
        '--log-level', 'warn',
        '--log-path', path.join(dir, `${name}.envoy.log`),
        '--admin-address-path', adminFile,
        '--file-flush-interval-msec', '50', // access-log lines visible within ~50 ms
      ]);
      procs.push(proc);
      const address = await waitFor(`${name}'s Envoy admin address`, () => {
        if (!proc.running) throw new Error(`Envoy for ${name} exited during start-up:\n${readFileSync(path.join(dir, `${name}.envoy.log`), 'utf8')}\n${proc.stderr.join('\n')}`);
        return existsSync(adminFile) ? readFileSync(adminFile, 'utf8').trim() || undefined : undefined;
      }, 20_000);
      workload.adminPort = Number(address.split(':').pop());
      await waitFor(`${name}'s Envoy to be ready`, async () => {
        if (!proc.running) throw new Error(`Envoy for ${name} exited during start-up:\n${readFileSync(path.join(dir, `${name}.envoy.log`), 'utf8')}`);
        const response = await fetch(`http://${address}/ready`).catch(() => undefined);
        return response?.status === 200;
      }, 20_000);
    }));
    log(`lab ready in ${dir}`);
    return lab;
  } catch (error) {
    await lab.stop().catch(() => {});
    throw error;
  }
}

/**
 * One HTTP(S) request with a raw path (no client-side normalization). Resolves to the response,
 * or to { error } when the connection or TLS handshake fails.
 */
function httpCall(module, connection, { method = 'GET', path: requestPath = '/', headers = {}, body } = {}) {
  const requestId = headers['x-request-id'] ?? randomUUID();
  return new Promise((resolve) => {
    const request = module.request(
      { ...connection, method, path: requestPath, headers: { 'x-request-id': requestId, ...headers } },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ requestId, status: response.statusCode ?? 0, headers: response.headers, text, json });
        });
        response.on('error', (error) => resolve({ requestId, status: 0, error }));
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error('request timed out after 10 s')));
    request.on('error', (error) => resolve({ requestId, status: 0, error }));
    request.end(body);
  });
}

/** The certificate's URI SANs (for showing identities in the demo). */
export function uriSans(certFile) {
  const san = new X509Certificate(readFileSync(certFile)).subjectAltName ?? '';
  return san.split(', ').filter((entry) => entry.startsWith('URI:')).map((entry) => entry.slice(4));
}

// ---------------------------------------------------------------------------------------------
// CLI

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const [command, arg] = process.argv.slice(2);
  if (command === 'up') {
    const lab = await startLab({ log: (line) => console.log(`lab: ${line}`) });
    console.log(`gatehouse: gRPC 127.0.0.1:${lab.gatehouse.grpcPort}, admin http://127.0.0.1:${lab.gatehouse.adminPort}/readyz`);
    for (const [name, workload] of Object.entries(lab.workloads)) {
      const outbound = Object.entries(workload.outbound).map(([to, port]) => `${to} via 127.0.0.1:${port}`).join(', ');
      console.log(`${name.padEnd(10)} ${workload.spiffeId}${workload.inboundPort ? ` inbound mTLS :${workload.inboundPort}` : ''}; calls ${outbound}`);
    }
    console.log(`try: curl -s 127.0.0.1:${lab.workloads.checkout?.outbound.inventory}/api/v1/stock/sku-42   (checkout → inventory)`);
    console.log('Ctrl-C stops everything.');
    const stop = async () => {
      await lab.stop();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } else if (command === 'render' && arg && arg in WORKLOADS) {
    const servers = Object.keys(WORKLOADS).filter((name) => WORKLOADS[name].serves);
    const config = renderSidecar({
      workload: arg,
      trustDomain: TRUST_DOMAIN,
      meshCa: '/etc/mesh/ca.crt',
      svidCert: `/etc/mesh/${arg}.crt`,
      svidKey: `/etc/mesh/${arg}.key`,
      accessLog: '/dev/stdout',
      gatehousePort: 9191,
      ...(WORKLOADS[arg].serves ? { inbound: { port: 15006, appPort: 8080 } } : {}),
      outbound: servers.filter((to) => to !== arg).map((to, index) => ({ name: to, spiffeId: WORKLOADS[to].spiffeId, port: 15006, localPort: 15001 + index })),
    });
    process.stdout.write(YAML.stringify(config));
  } else {
    console.error(`usage: node lab/lab.mjs up | render <${Object.keys(WORKLOADS).join('|')}>`);
    process.exit(2);
  }
}
