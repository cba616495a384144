// The servers under test, each started pinned to one CPU, and a small grpc-js client used to
// wait for readiness and to check that the policy servers give the same decisions.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import { authzProtos, CHECK_METHOD_PATH } from '../../dist/grpc/protos.js';
import { sleep, startPinned } from './proc.mjs';
import { ROOT } from './tools.mjs';

const POLICY_DIR = path.join(ROOT, 'bench', 'policy');
const identity = (b) => b;

/**
 * Server kinds, keyed as bench/run.mjs and bench/lib/report.mjs use them. Each `start({ cpus, port,
 * adminPort, nodeArgs })` returns a startPinned handle (lib/proc.mjs).
 *
 * Decision logging is either on for both policy servers (the headline rows, `-logs` keys) or off for
 * both: the real plugin with `decision_logs: console: true` (its console decision log goes to a file,
 * as stdout/stderr of every server here do), gatehouse with `--decision-log <file>`. The stand-in has
 * no decision log at all. Metrics stay on in gatehouse (it records them per Check; /metrics is read
 * for the cache hit rate), and the plugin keeps its default Prometheus metrics.
 *
 * @param {object} o
 * @param {{ kind: string, name: string, bin: string }} o.incumbent from ensureIncumbent
 * @param {string} o.bundle gatehouse bundle built from bench/policy
 * @param {string} o.workDir where logs, decision logs and the plugin's config go
 */
export function serverKinds({ incumbent, bundle, workDir }) {
  const gatehouse = ({ cache, logs, workers = 1 }) => {
    const tag = `cache-${cache === 'auto' ? 'on' : 'off'}${logs ? '-logs' : ''}${workers > 1 ? `-w${workers}` : ''}`;
    return {
      name: `gatehouse ${workers} worker${workers > 1 ? 's' : ''}, cache ${cache === 'auto' ? 'on' : 'off'}, decision log ${logs ? 'on' : 'off'}`,
      logs, workers,
      start: ({ cpus, port, adminPort, nodeArgs = [] }) => {
        const decisionLog = logs ? path.join(workDir, `decisions-gatehouse-${tag}-${port}.jsonl`) : 'off';
        return startPinned(cpus, process.execPath, [
          ...nodeArgs, path.join(ROOT, 'dist', 'main.js'), 'serve', '--bundle', bundle, '--addr', `127.0.0.1:${port}`,
          '--admin-addr', `127.0.0.1:${adminPort}`, '--decision-log', decisionLog, '--decision-cache', cache, '--watch', 'false', '--log-level', 'warn',
          '--shutdown-drain-ms', '0', '--workers', String(workers),
        ], { logFile: path.join(workDir, `gatehouse-${tag}-${port}.log`), decisionLog: logs ? decisionLog : undefined });
      },
      admin: true,
    };
  };
  const plugin = ({ logs, gomaxprocs = 1 }) => ({
    name: incumbent.kind === 'opa-standin'
      ? `${incumbent.name}, GOMAXPROCS=${gomaxprocs}, no decision log`
      : `opa-envoy-plugin, GOMAXPROCS=${gomaxprocs}, decision log ${logs ? 'on' : 'off'}`,
    logs, workers: gomaxprocs,
    start: ({ cpus, port, adminPort }) => {
      const env = { GOMAXPROCS: String(gomaxprocs) };
      const tag = `${logs ? 'logs' : 'nologs'}-p${gomaxprocs}-${port}`;
      if (incumbent.kind === 'opa-standin') {
        return startPinned(cpus, incumbent.bin, ['-addr', `127.0.0.1:${port}`, '-policies', POLICY_DIR], { logFile: path.join(workDir, `opa-standin-${tag}.log`), env });
      }
      // The real plugin: same Rego and data; its defaults otherwise. Console decision logs are
      // written by OPA's console logger to the process output, which goes to a file here.
      const config = path.join(workDir, `opa-envoy-plugin-${tag}.yaml`);
      writeFileSync(config, [
        'plugins:', '  envoy_ext_authz_grpc:', `    addr: 127.0.0.1:${port}`, '    path: envoy/authz/allow',
        'decision_logs:', `  console: ${logs ? 'true' : 'false'}`, '',
      ].join('\n'));
      const out = path.join(workDir, `opa-envoy-plugin-${tag}.log`);
      return startPinned(cpus, incumbent.bin, [
        'run', '--server', '--addr', `127.0.0.1:${adminPort}`, '--config-file', config, '--log-level', 'error',
        path.join(POLICY_DIR, 'authz.rego'), path.join(POLICY_DIR, 'data.json'),
      ], { logFile: out, env, decisionLog: logs ? out : undefined });
    },
  });
  return {
    'incumbent-logs': plugin({ logs: true }),
    'gatehouse-cache-off-logs': gatehouse({ cache: 'off', logs: true }),
    'gatehouse-cache-on-logs': gatehouse({ cache: 'auto', logs: true }),
    incumbent: plugin({ logs: false }),
    'gatehouse-cache-off': gatehouse({ cache: 'off', logs: false }),
    'gatehouse-cache-on': gatehouse({ cache: 'auto', logs: false }),
    noop: {
      name: 'grpc-js-noop',
      start: ({ cpus, port }) => startPinned(cpus, process.execPath, [path.join(ROOT, 'bench', 'noop-server.mjs'), String(port)], { logFile: path.join(workDir, 'noop.log') }),
    },
    // Two cores: the server may use both CPUs (and shares them with ghz on a 2-core machine).
    'incumbent-logs-2': plugin({ logs: true, gomaxprocs: 2 }),
    'gatehouse-cache-on-logs-w2': gatehouse({ cache: 'auto', logs: true, workers: 2 }),
    'gatehouse-cache-on-logs-w1-2cpu': gatehouse({ cache: 'auto', logs: true, workers: 1 }),
  };
}

export class CheckClient {
  constructor(port) {
    this.protos = authzProtos();
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  }

  /** @returns {Promise<{ grpcStatus: number, allowed: boolean, httpStatus: number }>} */
  check(request) {
    const bytes = this.protos.encodeCheckRequest(request);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(CHECK_METHOD_PATH, identity, identity, bytes, { deadline: Date.now() + 2000 }, (error, response) => {
        if (error) return reject(error);
        const decoded = this.protos.decodeCheckResponse(response);
        const code = decoded.status?.code ?? 0;
        const httpStatus = decoded.deniedResponse ? Number(decoded.deniedResponse.status?.code === undefined ? 403 : httpCode(decoded.deniedResponse.status.code)) : 200;
        resolve({ grpcStatus: code, allowed: code === 0, httpStatus });
      });
    });
  }

  close() { this.client.close(); }
}

/** protobufjs renders the HttpStatus enum by name ("Forbidden"); map the ones policies use. */
function httpCode(code) {
  if (typeof code === 'number') return code;
  const byName = { Forbidden: 403, Unauthorized: 401, BadRequest: 400, NotFound: 404, ServiceUnavailable: 503, InternalServerError: 500, PayloadTooLarge: 413 };
  return byName[code] ?? code;
}

/** Wait until a Check succeeds (the process may still be loading its policy). */
export async function waitReady(port, request, proc, timeoutMs = 20_000) {
  const client = new CheckClient(port);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (proc.child.exitCode !== null) throw new Error(`server exited with ${proc.child.exitCode} before it was ready`);
      try {
        await client.check(request);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`server on port ${port} not ready after ${timeoutMs} ms: ${error.message}`);
        await sleep(100);
      }
    }
  } finally {
    client.close();
  }
}

/** Decisions for the first `n` corpus requests: [allowed, httpStatus] each. */
export async function decisions(port, requests, n) {
  const client = new CheckClient(port);
  try {
    const out = [];
    for (const request of requests.slice(0, n)) {
      const r = await client.check(request);
      out.push([r.allowed, r.httpStatus]);
    }
    return out;
  } finally {
    client.close();
  }
}

/** gatehouse's decision-cache hit/miss counters from /metrics. */
export async function cacheLookups(adminPort) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const get = (result) => Number(new RegExp(`gatehouse_decision_cache_lookups_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    return { hit: get('hit'), miss: get('miss') };
  } catch {
    return undefined;
  }
}
