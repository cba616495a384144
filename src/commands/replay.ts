/**
 * `gatehouse replay`: re-decide the inputs recorded in decision logs with a new bundle, before it
 * is enforced. Prints how many decisions would change, in which direction, grouped by caller and
 * by request, and the changed lines; fails (exit 1) when the flips exceed the thresholds, so it
 * can gate a CI pipeline.
 */
import { decisionFromResultSet } from '../authz/decision.js';
import { GatehouseError, describeThrown } from '../errors.js';
import { MASKED } from '../observability/decision-log.js';
import { loadOfflinePolicy, type Io, type Values } from './common.js';
import { readDecisionLogs } from './decision-log-lines.js';
import { printable } from './printable.js';
import { terminalProgress } from './progress.js';

type Direction = 'allow_to_deny' | 'deny_to_allow';

interface Change {
  decisionId: string;
  caller: string;
  request: string;
  direction: Direction;
  newReason: string;
}

const encoder = new TextEncoder();

/** Re-decides the logged inputs in `positionals` with --bundle; 1 when the flips exceed the thresholds. */
export async function replay(values: Values, positionals: string[], io: Io): Promise<number> {
  const maxAllowToDeny = count(values['max-allow-to-deny'], 'max-allow-to-deny', 0);
  const maxDenyToAllow = count(values['max-deny-to-allow'], 'max-deny-to-allow', 0);
  const show = count(values.show, 'show', 20);
  const baseline = values.baseline ?? 'policy';
  if (baseline !== 'policy' && baseline !== 'enforced') throw new GatehouseError('usage', `--baseline must be policy or enforced, got ${JSON.stringify(baseline)}`);
  const { policy } = await loadOfflinePolicy(values, '');

  let unchanged = 0;
  let skipped = 0;
  let masked = 0;
  const changes: Change[] = [];
  const progress = terminalProgress(io.stderr, 'replay');
  for await (const { file, text, event } of readDecisionLogs(positionals)) {
    progress?.line(file);
    if (!event) {
      if (text.trim() !== '') skipped++;
      continue;
    }
    // enforced: a deny dry-run let through counts as allowed (it happened), so every call that went through and the new bundle denies is an allow→deny flip.
    const wasAllowed = event.gatehouse.outcome === 'allow' || (baseline === 'enforced' && event.gatehouse.enforced === 'allow');
    let nowAllowed: boolean;
    let newReason: string;
    const inputText = JSON.stringify(event.input);
    if (inputText.includes(`"${MASKED}"`)) masked++;
    try {
      const decision = decisionFromResultSet(policy.evaluate(encoder.encode(inputText).buffer as ArrayBuffer));
      nowAllowed = decision.allowed;
      newReason = decision.reason ?? (nowAllowed ? 'allowed by policy' : 'denied by policy');
    } catch (error) {
      nowAllowed = false;
      newReason = `error: ${describeThrown(error)}`;
    }
    if (nowAllowed === wasAllowed) {
      unchanged++;
      continue;
    }
    const http = event.input.attributes?.request?.http;
    changes.push({
      // Log values and the policy's reason (which may quote the decoded path) are printed escaped.
      decisionId: printable(String(event.decision_id ?? '')),
      caller: printable(String(event.gatehouse.source_principal ?? '(no principal)')),
      request: printable(`${String(http?.method ?? '?')} ${String(http?.path ?? '?').split('?')[0]}`),
      direction: wasAllowed ? 'allow_to_deny' : 'deny_to_allow',
      newReason: printable(newReason),
    });
  }

  const allowToDeny = changes.filter((c) => c.direction === 'allow_to_deny');
  const denyToAllow = changes.filter((c) => c.direction === 'deny_to_allow');
  const out: string[] = [];
  out.push(`replayed ${unchanged + changes.length} decisions against ${policy.bundle} (revision ${policy.revision})${baseline === 'enforced' ? ', compared with what was enforced (dry-run: allow)' : ''}`);
  out.push(`  unchanged: ${unchanged}   allow→deny: ${allowToDeny.length}   deny→allow: ${denyToAllow.length}   skipped (no input, or not a decision-log line): ${skipped}`);
  if (masked > 0) out.push(`  ${masked} inputs had masked values and were evaluated as logged`);
  for (const [label, group] of [['allow→deny', allowToDeny], ['deny→allow', denyToAllow]] as const) {
    if (group.length === 0) continue;
    out.push(`${label} by caller:`, ...top(group, (c) => c.caller));
    out.push(`${label} by request:`, ...top(group, (c) => c.request));
  }
  if (changes.length > 0) {
    out.push(`changed decisions${changes.length > show ? ` (first ${show} of ${changes.length})` : ''}:`);
    for (const c of changes.slice(0, show)) {
      out.push(`  ${c.decisionId}  ${c.caller}  ${c.request}  ${c.direction === 'allow_to_deny' ? 'allow → deny' : 'deny → allow'}  (${c.newReason})`);
    }
  }
  const failures: string[] = [];
  if (allowToDeny.length > maxAllowToDeny) failures.push(`${allowToDeny.length} allow→deny flips exceed --max-allow-to-deny ${maxAllowToDeny}`);
  if (denyToAllow.length > maxDenyToAllow) failures.push(`${denyToAllow.length} deny→allow flips exceed --max-deny-to-allow ${maxDenyToAllow}`);
  out.push(failures.length > 0 ? `FAIL: ${failures.join('; ')}` : 'OK: flips within the thresholds');
  io.stdout(`${out.join('\n')}\n`);
  return failures.length > 0 ? 1 : 0;
}

function top(changes: Change[], key: (c: Change) => string): string[] {
  const counts = new Map<string, number>();
  for (const c of changes) counts.set(key(c), (counts.get(key(c)) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 10)
    .map(([name, n]) => `  ${String(n).padStart(6)}  ${name}`);
}

function count(value: Values[string], flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw new GatehouseError('usage', `--${flag} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}
