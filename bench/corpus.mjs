// Generates the benchmark's deterministic inputs (same seed → same bytes):
//   policy/data.json         the allow-list (data.mesh.services) the benchmark policy reads
//   <out>/corpus.bin          CheckRequests, varint-length-delimited (what `ghz --binary-file` cycles through)
//   <out>/corpus.json         the same requests as JSON (for reading, and for the differential check)
// Usage: node bench/corpus.mjs [--out DIR] [--count N] [--write-data]
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { authzProtos } from '../dist/grpc/protos.js';

export const BENCH_DIR = import.meta.dirname;
export const POLICY_DIR = path.join(BENCH_DIR, 'policy');
const TD = 'spiffe://mesh.local';

/** Small, seeded PRNG (mulberry32) so the corpus is the same on every machine. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMESPACES = ['shop', 'billing', 'identity', 'search', 'ops'];
const SERVICE_NAMES = ['inventory', 'payments', 'orders', 'catalog', 'cart', 'shipping', 'users', 'sessions', 'search', 'reviews', 'pricing', 'ledger'];
const CALLER_NAMES = ['checkout', 'gateway', 'frontend', 'mobile-bff', 'worker', 'scheduler', 'prober', 'admin', 'reporting', 'fraud', 'notifier', 'importer'];
const RESOURCES = ['stock', 'reservations', 'charges', 'refunds', 'items', 'orders', 'profiles', 'tokens', 'query', 'reports', 'prices', 'entries'];

/** The allow-list: 12 destinations × 3–5 rules, callers drawn from 36 workloads. */
export function makeData(seed = 7) {
  const r = rng(seed);
  const pick = (list) => list[Math.floor(r() * list.length)];
  const callers = [];
  for (const ns of NAMESPACES.slice(0, 3)) for (const name of CALLER_NAMES) callers.push(`${TD}/ns/${ns}/sa/${name}`);
  const services = {};
  SERVICE_NAMES.forEach((name, i) => {
    const id = `${TD}/ns/${NAMESPACES[i % NAMESPACES.length]}/sa/${name}`;
    const rules = [];
    const n = 3 + Math.floor(r() * 3);
    for (let k = 0; k < n; k++) {
      const resource = pick(RESOURCES);
      const methods = k % 2 === 0 ? ['GET', 'HEAD'] : ['POST', 'PUT', 'DELETE'];
      const ruleCallers = [...new Set(Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(callers)))];
      rules.push({ name: `${name}-${k}-${resource}`, callers: ruleCallers, methods, paths: [`/api/v${1 + (k % 2)}/${resource}`] });
    }
    rules.push({ name: `${name}-probes`, callers: [`${TD}/ns/ops/sa/prober`], methods: ['GET'], paths: ['/healthz'] });
    services[id] = { name, allow: rules };
  });
  return { mesh: { services } };
}

const USER_AGENTS = ['envoy/1.40.0', 'okhttp/4.12.0', 'grpc-go/1.72.0', 'Go-http-client/2.0', 'python-requests/2.32.3'];

/**
 * `count` distinct CheckRequests (proto3 JSON names): ~65% match an allow rule, the rest are
 * unknown callers, wrong methods or paths. ~20 headers each with fresh ids, ~20% carry a JSON body.
 * Resource ids come from a small set, so (caller, destination, method, path) repeats across
 * requests as it does in a mesh; the request ids and trace headers never do.
 */
export function makeCorpus(data, count, seed = 11) {
  const r = rng(seed);
  const pick = (list) => list[Math.floor(r() * list.length)];
  const hex = (n) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
  const services = Object.entries(data.mesh.services);
  const requests = [];
  for (let i = 0; i < count; i++) {
    const [destination, service] = pick(services);
    const rule = pick(service.allow);
    const allowedShape = r() < 0.65;
    const caller = allowedShape ? pick(rule.callers) : `${TD}/ns/${pick(NAMESPACES)}/sa/${pick(CALLER_NAMES)}`;
    const method = allowedShape ? pick(rule.methods) : pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
    const base = allowedShape ? rule.paths[0] : `/api/v${1 + Math.floor(r() * 2)}/${pick(RESOURCES)}`;
    const tail = base === '/healthz' ? '' : `/${pick(['a', 'b', 'c', 'd'])}-${Math.floor(r() * 8)}`;
    const query = r() < 0.3 ? `?page=${Math.floor(r() * 5)}&sort=${pick(['asc', 'desc'])}` : '';
    const urlPath = base + tail + query;
    const withBody = (method === 'POST' || method === 'PUT') && r() < 0.8;
    const body = withBody ? JSON.stringify({ id: `${hex(8)}`, quantity: Math.floor(r() * 10), note: 'benchmark', tags: ['a', 'b'] }) : '';
    const host = `${service.name}.svc.cluster.local`;
    const requestId = `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
    const headers = {
      ':authority': host,
      ':method': method,
      ':path': urlPath,
      ':scheme': 'https',
      accept: 'application/json',
      'accept-encoding': 'gzip, deflate, br',
      'user-agent': pick(USER_AGENTS),
      'x-request-id': requestId,
      traceparent: `00-${hex(32)}-${hex(16)}-01`,
      tracestate: `mesh=${hex(16)}`,
      'x-b3-traceid': hex(32),
      'x-b3-spanid': hex(16),
      'x-b3-sampled': '1',
      'x-envoy-expected-rq-timeout-ms': '15000',
      'x-forwarded-proto': 'https',
      'x-envoy-attempt-count': '1',
      'x-tenant': pick(['acme', 'globex', 'initech', 'umbrella']),
      'x-client-version': `${1 + Math.floor(r() * 3)}.${Math.floor(r() * 20)}.${Math.floor(r() * 10)}`,
      'accept-language': pick(['en-US', 'de-DE', 'fr-FR']),
      'cache-control': 'no-cache',
    };
    if (withBody) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    requests.push({
      attributes: {
        source: { address: { socketAddress: { address: `10.1.${Math.floor(r() * 250)}.${Math.floor(r() * 250)}`, portValue: 30000 + Math.floor(r() * 30000) } }, principal: caller },
        destination: { address: { socketAddress: { address: '10.2.0.9', portValue: 8443 } }, principal: destination },
        request: {
          time: { seconds: String(1795446000 + Math.floor(i / 100)), nanos: (i % 100) * 7_000_000 },
          http: { id: String(1e15 + i * 7919), method, headers, path: urlPath, host, scheme: 'https', protocol: 'HTTP/2', ...(withBody ? { body, size: String(body.length) } : {}) },
        },
        contextExtensions: { virtual_host: service.name },
      },
    });
  }
  return requests;
}

/** Varint length prefix + message, as ghz's --binary-file reads several messages. */
function delimited(messages) {
  const parts = [];
  for (const m of messages) {
    let n = m.length;
    const prefix = [];
    while (n > 0x7f) { prefix.push((n & 0x7f) | 0x80); n >>>= 7; }
    prefix.push(n);
    parts.push(Buffer.from(prefix), m);
  }
  return Buffer.concat(parts);
}

export function writeCorpus(outDir, count) {
  const data = JSON.parse(readFileSync(path.join(POLICY_DIR, 'data.json'), 'utf8'));
  const requests = makeCorpus(data, count);
  const protos = authzProtos();
  const encoded = requests.map((q) => protos.encodeCheckRequest(q));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'corpus.json'), JSON.stringify(requests));
  writeFileSync(path.join(outDir, 'corpus.bin'), delimited(encoded));
  const bytes = encoded.reduce((s, b) => s + b.length, 0);
  return { requests, file: path.join(outDir, 'corpus.bin'), meanBytes: Math.round(bytes / encoded.length), withBody: requests.filter((q) => q.attributes.request.http.body).length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(BENCH_DIR, 'results', 'work') }, count: { type: 'string', default: '2000' }, 'write-data': { type: 'boolean', default: false } } });
  if (values['write-data']) writeFileSync(path.join(POLICY_DIR, 'data.json'), JSON.stringify(makeData(), null, 2) + '\n');
  const c = writeCorpus(values.out, Number(values.count));
  console.log(`${c.requests.length} requests (${c.withBody} with JSON bodies, mean ${c.meanBytes} bytes) → ${c.file}`);
}
