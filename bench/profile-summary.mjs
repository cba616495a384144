// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per component.
// Usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N]
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** gatehouse's per-Check steps (dist/), plus the transport and telemetry around them. */
const INCLUSIVE = ['Check', 'authorize', 'decodeRequest', 'decodeCheckRequest', 'buildInput', 'toProtoJson', 'cacheKey', 'evaluate', 'decisionFromResultSet', 'encodeResponse', 'toCheckResponse', 'encodeCheckResponse', 'record', 'recordCheck', 'sendUnaryMessage', 'respond'];

const COMPONENTS = [
  ['grpc-js', /@grpc\/grpc-js\//],
  ['protobufjs', /protobufjs|@protobufjs|eval at Codegen/],
  ['Wasm runtime (host side)', /policy\/(wasm-runtime|rego-value|builtins\/)/],
  ['wasm policy', /^wasm:|wasm-function/],
  ['gatehouse authz', /dist\/authz\//],
  ['gatehouse cache', /dist\/cache\//],
  ['gatehouse grpc', /dist\/grpc\//],
  ['gatehouse identity', /dist\/identity\//],
  ['gatehouse observability', /dist\/observability\/|prom-client|pino/],
  ['gatehouse other', /dist\//],
  ['node internals', /^node:|^internal\//],
];

export function summarise(file, top = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const functions = new Map();
  const components = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { callFrame: f } = byId.get(id);
    if (f.functionName === '(idle)') { idle += us; continue; }
    busy += us;
    const url = f.url.replace(/^file:\/\/.*?\/node_modules\//, '').replace(/^file:\/\/.*?\/dist\//, 'dist/');
    const key = `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + us);
    const component = f.url === '' ? (f.functionName.startsWith('(') ? f.functionName : 'native/builtin')
      : (COMPONENTS.find(([, re]) => re.test(f.url) || re.test(url))?.[0] ?? 'other');
    components.set(component, (components.get(component) ?? 0) + us);
  }
  // Inclusive time (self + callees) of the functions on gatehouse's per-Check path, by name;
  // a function's time is counted once even when it recurses.
  const inclusive = new Map();
  const walk = (node, onStack) => {
    let total = selfUs.get(node.id) ?? 0;
    const name = node.callFrame.functionName;
    const watched = INCLUSIVE.includes(name) && !onStack.has(name);
    if (watched) onStack.add(name);
    for (const child of node.children ?? []) total += walk(byId.get(child), onStack);
    if (watched) { onStack.delete(name); inclusive.set(name, (inclusive.get(name) ?? 0) + total); }
    return total;
  };
  walk(profile.nodes[0], new Set());
  const rank = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, pct: Number(((100 * us) / busy).toFixed(1)), ms: Math.round(us / 1000) }));
  return { file: path.basename(file), busyMs: Math.round(busy / 1000), idleMs: Math.round(idle / 1000), components: rank(components), functions: rank(functions).slice(0, top), inclusive: rank(inclusive) };
}

export function print(summary, log = console.log) {
  log(`${summary.file}: ${summary.busyMs} ms busy, ${summary.idleMs} ms idle (percentages of busy time)`);
  log('  by component:');
  for (const c of summary.components) if (c.pct >= 0.5) log(`    ${c.pct.toFixed(1).padStart(5)}%  ${c.name}`);
  log('  inclusive (self + callees) of per-Check steps:');
  for (const f of summary.inclusive) log(`    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}`);
  log('  top self time:');
  for (const f of summary.functions) log(`    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const top = process.argv.includes('--top') ? Number(process.argv[process.argv.indexOf('--top') + 1]) : 25;
  print(summarise(process.argv[2], top));
}
