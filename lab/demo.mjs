#!/usr/bin/env node
// `npm run demo`: watch trust move through a small SPIFFE mesh. Starts the lab (lab/lab.mjs),
// makes a handful of calls and, for each, prints the path it took (caller's sidecar → mTLS
// identity → policy check → callee's sidecar → telemetry) with the log lines behind it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { missingTools, ROOT, startLab } from './lab.mjs';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`npm run demo [-- --keep | --instances N]

Starts the SPIFFE mesh lab (Envoy sidecars with mTLS, gatehouse, a policy) and makes a handful of
calls, printing for each the path it took and the log lines behind it (docs/lab.md). gatehouse
serves the live authorization map (admin_ui); the demo prints its URL.
  --keep          leave the lab running after the calls (Ctrl-C stops it), to look at the live map
  --instances N   instead: N gatehouse instances (2-8) behind one Envoy, one bundle server`);
  process.exit(0);
}

// `npm run demo -- --instances N`: N gatehouse instances behind one Envoy instead (lab/instances.mjs).
if (process.argv.includes('--instances')) {
  const { demo } = await import('./instances.mjs');
  const count = Number(process.argv[process.argv.indexOf('--instances') + 1]);
  if (!Number.isInteger(count) || count < 2 || count > 8) {
    console.error('usage: npm run demo -- --instances N   (N from 2 to 8)');
    process.exit(2);
  }
  process.exit(await demo(count));
}

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (text) => (tty ? `\x1b[${code}m${text}\x1b[0m` : String(text));
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const yellow = paint('33');

const say = (text = '') => console.log(text);
const step = (label, text) => say(`  ${dim(label.padEnd(9))} ${text}`);
const statusText = (status) => (status === 200 ? green(`${status}`) : red(`${status || 'no response'}`));

const keep = process.argv.includes('--keep');
// The live authorization map on gatehouse's admin listener (127.0.0.1): the lab's gatehouse reads
// GATEHOUSE_ADMIN_UI from this environment.
process.env.GATEHOUSE_ADMIN_UI ??= 'true';
const liveUrl = () => `http://127.0.0.1:${lab.gatehouse.adminPort}/live`;

const missing = missingTools();
if (missing.length > 0) {
  console.error(`npm run demo needs:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}

say(bold('gatehouse lab: a SPIFFE mesh on one machine'));
const lab = await startLab({ log: (line) => say(dim(`  lab: ${line}`)) });
let stopping = false;
const stop = async (code) => {
  if (stopping) return;
  stopping = true;
  await lab.stop();
  process.exit(code);
};
process.once('SIGINT', () => stop(130));
process.once('SIGTERM', () => stop(143));

try {
  await main();
  await stop(0);
} catch (error) {
  console.error(red(`demo failed: ${error instanceof Error ? error.stack : error}`));
  await stop(1);
}

async function main() {
  say();
  say(`Envoy ${lab.envoyVersion}, trust domain mesh.local, everything on 127.0.0.1 (files in ${lab.dir}):`);
  for (const [name, workload] of Object.entries(lab.workloads)) {
    say(`  ${name.padEnd(10)} ${workload.spiffeId.padEnd(42)} ${workload.inboundPort ? `inbound mTLS :${workload.inboundPort} → app :${workload.appPort}` : 'calls only (no inbound listener)'}`);
  }
  say(`  gatehouse  gRPC :${lab.gatehouse.grpcPort}, policy ${bold(lab.policy)} (${(await lab.gatehouse.readyz()).policy?.revision})`);
  if (process.env.GATEHOUSE_ADMIN_UI === 'true') say(`  live map   ${bold(liveUrl())}  (who calls whom, denials, latency; docs/learn.md)`);

  chapter(1, 'An allowed call: checkout reads stock from inventory');
  await show('checkout', 'inventory', { path: '/api/v1/stock/sku-42' });

  chapter(2, 'A denied call: inventory tries to charge a card through payments');
  const charge = { method: 'POST', path: '/api/v1/charges', headers: { 'content-type': 'application/json' }, body: '{"order":"o-17","amount":4200}' };
  await show('inventory', 'payments', charge);

  chapter(3, 'A broken policy: "anyone in ns/shop may charge" lets the wrong caller in');
  say(`  Someone adds ${bold('lab/policies/wildcard-callers.rego')} to the policy and ships it:`);
  const rule = readFileSync(path.join(ROOT, 'lab/policies/wildcard-callers.rego'), 'utf8').split('\n').filter((line) => line && !line.startsWith('#'));
  for (const line of rule) say(yellow(`    ${line.replaceAll('\t', '  ')}`));
  await swap('wildcard');
  await show('inventory', 'payments', charge);
  say(`  ${red('The same call is now allowed:')} the rule matched a pattern, not an identity.`);
  say('  And the pattern does not even pin the trust domain. A certificate for another trust domain,');
  say('  presented straight to payments\' sidecar, gets in too:');
  await show('evil', 'payments', charge, { direct: true });

  chapter(4, 'The hardened policy names callers explicitly (policies/ as shipped)');
  await swap('hardened');
  await show('inventory', 'payments', charge);
  await show('evil', 'payments', charge, { direct: true });
  say('  ...while the caller the allow-list names still works:');
  await show('checkout', 'payments', charge);

  chapter(5, 'gatehouse is down: the sidecars fail closed');
  await lab.gatehouse.stop();
  say(`  ${dim('gatehouse stopped (SIGTERM).')}`);
  await show('checkout', 'inventory', { path: '/api/v1/stock/sku-42' });
  say('  Envoy answered 503 itself (status_on_error, ext_authz_error): no decision, no access.');
  await lab.gatehouse.start();
  say(`  ${dim(`gatehouse restarted on the same port (:${lab.gatehouse.grpcPort}); the next call goes through again:`)}`);
  await show('checkout', 'inventory', { path: '/api/v1/stock/sku-42' });

  say();
  say(bold('Done.') + ' The same mesh runs in the end-to-end tests: npx vitest run test/e2e (docs/lab.md).');
  if (!keep) {
    say(dim('npm run demo -- --keep leaves the lab running, to look at the live map.'));
    return;
  }
  // gatehouse restarted in chapter 5 on a new admin port: the page's address changed.
  say(`The lab keeps running: the live map is at ${bold(liveUrl())}; Ctrl-C stops everything.`);
  await new Promise(() => undefined); // until SIGINT/SIGTERM (stop above)
}

function chapter(number, title) {
  say();
  say(bold(`━━ ${number}. ${title}`));
}

async function swap(variant) {
  const started = Date.now();
  await lab.usePolicy(variant);
  say(`  ${dim(`bundle file replaced (atomic rename); gatehouse reloaded ${variant} (${lab.policies[variant].revision}) in ${Date.now() - started} ms, no restart`)}`);
}

/**
 * Make one call and print the path it took, with the telemetry behind each hop.
 * direct: the caller is not a workload but someone holding a certificate, calling the callee's
 * sidecar itself.
 */
async function show(from, to, request, { direct = false } = {}) {
  const method = request.method ?? 'GET';
  say();
  const callee = lab.workloads[to];
  let result;
  if (direct) {
    const outsider = lab.outsiders[from];
    step('call', `${bold(from)} (no sidecar; holds a certificate) → ${method} ${request.path} → ${to}'s sidecar :${callee.inboundPort}`);
    step('mTLS', `presents ${outsider.spiffeId} (signed by the mesh CA)`);
    result = await lab.callDirect(to, from, request);
  } else {
    step('call', `${bold(from)} app → ${method} ${request.path} → ${from}'s sidecar 127.0.0.1:${lab.workloads[from].outbound[to]}`);
    result = await lab.call(from, to, request);
    const outbound = await lab.accessLogFor(from, result.requestId, 'outbound');
    step('mTLS', `${from}'s sidecar presented ${outbound.local_spiffe_id ?? '-'}, verified ${to} is ${outbound.upstream_spiffe_id ?? '-'}`);
  }
  if (result.status === 0) {
    step('result', red(`refused: ${result.error?.message}`));
    return;
  }
  const inbound = await lab.accessLogFor(to, result.requestId);
  if (inbound.decision_id) {
    const decision = await lab.decisionFor(result.requestId);
    const g = decision.gatehouse;
    const verdict = g.outcome === 'allow' ? green('ALLOW') : red('DENY');
    step('policy', `${to}'s sidecar asked gatehouse: ${verdict} ${g.reason}`);
    const line = { decision_id: decision.decision_id, timestamp: decision.timestamp, revision: decision.bundles?.main?.revision, result: decision.result, gatehouse: decision.gatehouse };
    step('', dim(`decision log (input omitted): ${JSON.stringify(line)}`));
  } else {
    step('policy', red(`${to}'s sidecar could not ask gatehouse (${inbound.response_code_details}); no decision`));
  }
  step('callee', `${to}'s sidecar: peer ${inbound.peer_spiffe_id} → ${statusText(inbound.response_code)} (${inbound.response_code_details}${inbound.response_flags !== '-' ? `, flags ${inbound.response_flags}` : ''})`);
  step('', dim(`access log: ${JSON.stringify(inbound)}`));
  const seen = callee.app?.seen.find((r) => r.headers['x-request-id'] === result.requestId);
  if (seen) {
    step('upstream', `${to} app received ${seen.method} ${seen.path} with x-caller-spiffe-id: ${seen.headers['x-caller-spiffe-id']}, x-gatehouse-rule: ${seen.headers['x-gatehouse-rule']}`);
  } else {
    step('upstream', `${to} app never saw the request`);
  }
  step('result', `${statusText(result.status)} ${result.status === 200 ? '' : (result.text ?? '').trim()}`);
}
