#!/usr/bin/env node
// What a learned allow-list costs per evaluation: the example policy (policies/authz.rego) with
// its own data.json (prefix `paths`, the baseline) against the same policy with learned data
// (`exact_paths` with {int}/{uuid}/{id} variables, as `gatehouse learn` writes them), small (the
// example's size; also with template segments such as sku-{int}) and large (one destination,
// many callers and templates). Every request is one the data allows, matched by the last rule
// listed for its caller. One process, rounds alternate.
// Needs dist/ (npm run build) and OPA (./dev setup).
//   node bench/learned-policy.mjs [--evals N] [--rounds R] [--callers C] [--templates T] [--compare FILE]
// Prints µs per evaluation for each and the ratio to the baseline. --compare FILE also runs the
// same data with another version of the policy (e.g. `git show HEAD~1:policies/authz.rego`),
// in the same rounds, to measure a policy change side by side.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildInput } from '../dist/authz/input.js';
import { fromProtoJson } from '../dist/authz/proto-json.js';
import { shorthandRequest } from '../dist/commands/common.js';
import { authzProtos } from '../dist/grpc/protos.js';
import { readBundle } from '../dist/policy/bundle.js';
import { WasmPolicy } from '../dist/policy/evaluator.js';

const { values } = parseArgs({
  options: { evals: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' }, callers: { type: 'string', default: '40' }, templates: { type: 'string', default: '25' }, compare: { type: 'string' } },
});
const evals = Number(values.evals);
const rounds = Number(values.rounds);
const root = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-learned-bench-'));
const TD = 'spiffe://mesh.local';
const protos = authzProtos();
const encoder = new TextEncoder();

/** Builds policies/authz.rego with `data` into a bundle and loads it as serve does. */
async function load(name, data, rego = path.join(root, 'policies/authz.rego')) {
  const dir = path.join(work, name);
  mkdirSync(dir);
  copyFileSync(rego, path.join(dir, 'authz.rego'));
  writeFileSync(path.join(dir, 'data.json'), JSON.stringify(data));
  const out = path.join(work, `${name}.tar.gz`);
  execFileSync(process.execPath, [path.join(root, 'dist/main.js'), 'build', '--policies', dir, '--out', out], { stdio: 'ignore', cwd: root });
  const settings = { mode: 'off', ttlMs: 1, keyFields: [], nondeterministicTtlMs: 0 };
  return WasmPolicy.load(await readBundle(out, { maxBytes: 1 << 26 }), { entrypoint: 'envoy/authz/allow', maxMemoryBytes: 1 << 28, cache: settings });
}

function input(source, destination, method, p) {
  const request = fromProtoJson(protos.CheckRequest, shorthandRequest({ source, destination, method, path: p }));
  return encoder.encode(JSON.stringify(buildInput(protos.decodeCheckRequest(protos.encodeCheckRequest(request)), { maxBodyBytes: 1 << 20, xfccTrustedSources: new Set() })));
}

// Baseline: the example data, requests under each rule's prefixes.
const example = JSON.parse(readFileSync(path.join(root, 'policies/data.json'), 'utf8'));
const exampleInputs = [];
for (const [destination, service] of Object.entries(example.mesh.services)) {
  for (const rule of service.allow) for (const prefix of rule.paths) exampleInputs.push(input(rule.callers[0], destination, rule.methods[0], `${prefix}/x-1`.replace('//', '/')));
}

// Learned, small: the example's edges as whole-path templates.
const small = { mesh: { services: {} } };
const smallInputs = [];
for (const [destination, service] of Object.entries(example.mesh.services)) {
  small.mesh.services[destination] = {
    name: service.name,
    allow: service.allow.map((rule) => ({ ...rule, paths: undefined, exact_paths: rule.paths.flatMap((p) => [p, `${p}/{int}`, `${p}/{uuid}/items`, `${p}/{id}`]) })),
  };
  for (const rule of service.allow) for (const prefix of rule.paths) smallInputs.push(input(rule.callers[0], destination, rule.methods[0], `${prefix}/3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11/items`.replace('//', '/')));
}

// Learned, small with template segments: a literal prefix and/or suffix around each variable,
// the request matching the last (its prefix and suffix compared, its middle by the {id} pattern).
const shaped = { mesh: { services: {} } };
const shapedInputs = [];
for (const [destination, service] of Object.entries(example.mesh.services)) {
  shaped.mesh.services[destination] = {
    name: service.name,
    allow: service.allow.map((rule) => ({ ...rule, paths: undefined, exact_paths: rule.paths.flatMap((p) => [p, `${p}/sku-{int}`, `${p}/{uuid}.json`, `${p}/report-{id}.pdf`]) })),
  };
  for (const rule of service.allow) for (const prefix of rule.paths) shapedInputs.push(input(rule.callers[0], destination, rule.methods[0], `${prefix}/report-2026-q3.pdf`.replace('//', '/')));
}

// Learned, large: one destination, C callers, each with T templates (GET), the request matching its last one.
const callers = Number(values.callers);
const templates = Number(values.templates);
const big = `${TD}/ns/shop/sa/orders`;
const large = { mesh: { services: { [big]: { name: 'orders', allow: [] } } } };
const largeInputs = [];
for (let c = 0; c < callers; c++) {
  const caller = `${TD}/ns/team${c}/sa/client`;
  const paths = Array.from({ length: templates }, (_, t) => `/api/v${1 + (t % 3)}/resource${t}/{int}/${t % 2 ? 'items/{uuid}' : 'detail'}`);
  large.mesh.services[big].allow.push({ name: `learned ${caller} GET`, callers: [caller], methods: ['GET'], exact_paths: paths });
  const t = templates - 1;
  largeInputs.push(input(caller, big, 'GET', `/api/v${1 + (t % 3)}/resource${t}/${4242 + c}/${t % 2 ? 'items/3f2c9a1e-0b7d-4c55-9e61-2b8f0a9d7c11' : 'detail'}`));
}

const policies = [
  ['example data, prefix paths (baseline)', await load('example', example), exampleInputs],
  ['learned, small: exact_paths with variables', await load('small', small), smallInputs],
  ['learned, small, template segments (sku-{int}, {uuid}.json, report-{id}.pdf)', await load('shaped', shaped), shapedInputs],
  [`learned, large: ${callers} callers × ${templates} templates on one destination`, await load('large', large), largeInputs],
];
if (values.compare) {
  const rego = path.resolve(values.compare);
  policies.push(
    [`${values.compare}: example data`, await load('c-example', example, rego), exampleInputs],
    [`${values.compare}: learned, small`, await load('c-small', small, rego), smallInputs],
    [`${values.compare}: learned, large`, await load('c-large', large, rego), largeInputs],
  );
}
for (const [name, policy, inputs] of policies) {
  for (const [i, bytes] of inputs.entries()) {
    const result = policy.evaluate(bytes);
    if (result?.[0]?.result?.allowed !== true) throw new Error(`${name}: input ${i} is not allowed: ${JSON.stringify(result)}`);
  }
}

function time(policy, inputs) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < evals; i++) policy.evaluate(inputs[i % inputs.length]);
  return Number(process.hrtime.bigint() - start) / 1e3 / evals;
}
for (const [, policy, inputs] of policies) time(policy, inputs); // warm-up
const samples = policies.map(() => []);
for (let r = 0; r < rounds; r++) policies.forEach(([, policy, inputs], i) => samples[i].push(time(policy, inputs)));
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const base = median(samples[0]);
console.log(`policy evaluation only (policies/authz.rego), allowed requests, ${evals} evaluations × ${rounds} rounds, Node ${process.version}`);
console.log('| data | µs per evaluation (median) | rounds | ratio to baseline |');
console.log('|---|---|---|---|');
policies.forEach(([name], i) => console.log(`| ${name} | ${median(samples[i]).toFixed(2)} | ${samples[i].map((x) => x.toFixed(2)).join(' ')} | ${(median(samples[i]) / base).toFixed(2)} |`));
