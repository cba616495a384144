// Part 3 of issue 7: what ext_authz through gatehouse adds to a request's latency in a real Envoy.
// One Envoy (the pinned 1.40 from .venv, see scripts/ensure-envoy.sh) with two listeners that
// differ only in the ext_authz filter; both routes answer with a direct_response, so no
// application is timed. A Node client sends the corpus as HTTP/1.1 requests at a fixed rate
// (open loop, bounded count) and times each one.
//
// Plaintext HTTP has no mTLS principals, so the caller/destination SPIFFE IDs travel in the
// x-bench-caller / x-bench-destination headers, which the benchmark policy reads only when the
// principals are absent (bench/policy/authz.rego). gatehouse's ext_authz settings are the
// README's: failure_mode_allow false, 250 ms timeout, HTTP/2 cluster on loopback.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import YAML from 'yaml';
import { percentile } from './lib/ghz.mjs';
import { cpuSeconds, freePort, peakRssMb, sleep, startPinned } from './lib/proc.mjs';

function envoyConfig({ adminPort, onPort, offPort, gatehousePort }) {
  const routes = { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok\n' } } }] }] };
  const router = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };
  const extAuthz = {
    name: 'envoy.filters.http.ext_authz',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      transport_api_version: 'V3',
      failure_mode_allow: false,
      grpc_service: { envoy_grpc: { cluster_name: 'gatehouse' }, timeout: '0.25s' },
    },
  };
  const listener = (name, port, filters) => ({
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: name, route_config: routes, http_filters: filters,
    } }] }],
  });
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
    static_resources: {
      listeners: [listener('authz_on', onPort, [extAuthz, router]), listener('authz_off', offPort, [router])],
      clusters: [{
        name: 'gatehouse', type: 'STATIC', connect_timeout: '1s',
        typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} },
        } },
        load_assignment: { cluster_name: 'gatehouse', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: gatehousePort } } } }] }] },
      }],
    },
  };
}

/** The corpus as HTTP requests: method, path, ordinary headers, body; identities in x-bench-*. */
function toHttp(request) {
  const h = request.attributes.request.http;
  const headers = {};
  for (const [k, v] of Object.entries(h.headers)) if (!k.startsWith(':') && k !== 'content-length') headers[k] = v;
  headers.host = h.host;
  headers['x-bench-caller'] = request.attributes.source.principal;
  headers['x-bench-destination'] = request.attributes.destination.principal;
  return { method: h.method, path: h.path, headers, body: h.body };
}

/** Open-loop load at `rate`/s for `seconds`; returns latencies (ms) and status counts. */
async function load(port, requests, rate, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.round(rate * seconds);
  const latencies = [];
  const statuses = {};
  let sent = 0;
  let done = 0;
  let failed = 0;
  const start = performance.now();
  await new Promise((resolve) => {
    const hardStop = setTimeout(resolve, (seconds + 15) * 1000);
    const finish = () => { if (done === total) { clearTimeout(hardStop); resolve(); } };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        const r = requests[sent % requests.length];
        sent++;
        const t0 = performance.now();
        const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: r.headers, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
            done++;
            finish();
          });
        });
        req.on('error', () => { failed++; done++; finish(); });
        req.end(r.body);
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  agent.destroy();
  const wall = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { latencies, statuses, failed, achievedRate: done / wall, count: done };
}

/**
 * @param {{ envoy: string, gatehousePort: number, corpus: object[], rate: number, seconds: number, workDir: string, cpus: string, log: (s: string) => void }} o
 */
export async function envoyOverhead(o) {
  const [adminPort, onPort, offPort] = [await freePort(), await freePort(), await freePort()];
  const configFile = path.join(o.workDir, 'envoy-overhead.yaml');
  writeFileSync(configFile, YAML.stringify(envoyConfig({ adminPort, onPort, offPort, gatehousePort: o.gatehousePort })));
  const envoy = startPinned(o.cpus, o.envoy, ['-c', configFile, '--concurrency', '1', '--log-level', 'warn', '--base-id', String(40000 + (process.pid % 20000))], { logFile: path.join(o.workDir, 'envoy.log') });
  try {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`http://127.0.0.1:${adminPort}/ready`)).ok) break; } catch { /* starting */ }
      if (i > 150 || envoy.child.exitCode !== null) throw new Error(`Envoy did not become ready; see ${path.join(o.workDir, 'envoy.log')}`);
      await sleep(100);
    }
    const requests = o.corpus.map(toHttp);
    const result = {};
    // Alternate the two modes, each warmed up first, so drift on a shared machine hits both.
    for (const [mode, port] of [['off', offPort], ['on', onPort], ['off', offPort], ['on', onPort]]) {
      await load(port, requests, o.rate, Math.min(2, o.seconds / 2));
      const cpu0 = cpuSeconds(envoy.pid);
      const r = await load(port, requests, o.rate, o.seconds / 2);
      const envoyCpu = (cpuSeconds(envoy.pid) - cpu0) / r.count;
      const acc = (result[mode] ??= { latencies: [], statuses: {}, failed: 0, achievedRates: [], envoyCpuUsPerRequest: [] });
      acc.latencies.push(...r.latencies);
      for (const [k, v] of Object.entries(r.statuses)) acc.statuses[k] = (acc.statuses[k] ?? 0) + v;
      acc.failed += r.failed;
      acc.achievedRates.push(r.achievedRate);
      acc.envoyCpuUsPerRequest.push(envoyCpu * 1e6);
      o.log(`  envoy ext_authz ${mode}: ${r.count} requests at ${r.achievedRate.toFixed(0)}/s, p50 ${percentile(r.latencies, 50).toFixed(3)} ms, p99 ${percentile(r.latencies, 99).toFixed(3)} ms`);
    }
    const summary = {};
    for (const [mode, acc] of Object.entries(result)) {
      acc.latencies.sort((a, b) => a - b);
      summary[mode] = {
        count: acc.latencies.length,
        p50: Number(percentile(acc.latencies, 50).toFixed(3)),
        p90: Number(percentile(acc.latencies, 90).toFixed(3)),
        p99: Number(percentile(acc.latencies, 99).toFixed(3)),
        statuses: acc.statuses,
        failed: acc.failed,
        achievedRate: Math.min(...acc.achievedRates),
        envoyCpuUsPerRequest: Number((acc.envoyCpuUsPerRequest.reduce((a, b) => a + b, 0) / acc.envoyCpuUsPerRequest.length).toFixed(1)),
      };
    }
    summary.envoyPeakRssMb = peakRssMb(envoy.pid);
    summary.addedP50 = Number((summary.on.p50 - summary.off.p50).toFixed(3));
    summary.addedP99 = Number((summary.on.p99 - summary.off.p99).toFixed(3));
    return summary;
  } finally {
    await envoy.stop();
  }
}
