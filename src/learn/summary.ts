/**
 * The review `gatehouse learn` prints: where the data came from, what the learned data would
 * allow (per destination and caller), which positions became variables, what was seen only a
 * few times, what the serving policy denies that dry-run let through, and which callers look
 * like probes. Plain text for a person; the data file is the machine-readable output.
 */
import { printable } from '../commands/printable.js';
import type { Edge } from './edges.js';
import type { LearnResult } from './learn.js';

/** Paths in one learned rule above which the review warns about the cost per Check. */
export const LARGE_RULE_PATHS = 1000;

export interface SummaryOptions {
  /** Edges seen fewer times than this are listed as rare; default 3. */
  rare: number;
  /** Most lines per list; default 50. */
  show: number;
  /** Where the data went (a file name), or undefined when it was not written. */
  out: string | undefined;
}

export function learnSummary(result: LearnResult, files: readonly string[], options: SummaryOptions): string {
  const out: string[] = [];
  const span = result.firstSeen === undefined ? '' : `, ${iso(result.firstSeen)} to ${iso(result.lastSeen)}`;
  out.push(`learned from ${plural(result.lines - result.notDecisions, 'decision-log line')} in ${plural(files.length, 'file')}${span}`);
  const n = result.notLearned;
  out.push(`  learned from: ${result.learnedCalls} calls that went through${result.dryRun ? ' (dry-run: calls the policy denied went through too)' : ''}`);
  const refused = Object.entries(result.refusedCodes)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  const maskedFields = Object.entries(result.maskedFields)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([field, count]) => `${field} ${count}`)
    .join(', ');
  const notLearned = [
    [n.denied, 'denied by the policy and enforced'],
    [n.refused, `refused before the policy${refused ? ` (${refused})` : ''}`],
    [n.probe, 'from callers that look like probes'],
    [n.masked, `with masked caller, destination, method or path (decision_log_mask; never learned${maskedFields ? `; masked: ${maskedFields}` : ''})`],
    [n.no_caller, 'without a valid caller SPIFFE ID'],
    [n.no_destination, 'without a valid destination SPIFFE ID'],
    [n.unusable_path, 'with a method or path segment an allow-list cannot state (an encoded "/", a segment shaped like {name} or sku-{name})'],
  ].filter(([count]) => (count as number) > 0);
  if (notLearned.length > 0) out.push(`  not learned: ${notLearned.map(([count, why]) => `${count} ${why}`).join('; ')}`);
  const decisionLines = result.lines - result.notDecisions;
  if ((n.no_caller + n.no_destination) * 2 > decisionLines) {
    // Most calls carried no SPIFFE IDs: a listener without mTLS (plaintext, or TLS without client certificates).
    out.push(
      `  no SPIFFE IDs: ${n.no_caller + n.no_destination} of ${decisionLines} calls had no valid caller or destination SPIFFE ID; the allow-list is keyed on them, which Envoy sends (source/destination principal) only for mTLS connections with SPIFFE certificates`,
    );
  }
  if (result.notDecisions > 0) out.push(`  skipped: ${plural(result.notDecisions, 'line')} that ${result.notDecisions === 1 ? 'is not a decision-log line' : 'are not decision-log lines'} (first: ${result.notDecisionExamples.join(', ')})`);
  if (result.samplePercents.length > 0) {
    out.push(`  sampling: allow lines were logged at ${result.samplePercents.join('%, ')}% (decision_log_allow_sample_percent); counts of allowed calls are that share of the traffic, and rare edges may be missing`);
  }
  if (result.dryRun) out.push('  dry-run: the log comes from a server with dry_run on');

  const destinations = new Set(result.edges.map((e) => e.destination));
  const rules = Object.values(result.data.mesh.services).reduce((count, s) => count + s.allow.length, 0);
  out.push('', `would allow (${plural(result.edges.length, 'edge')}, ${plural(rules, 'rule')}, ${plural(destinations.size, 'destination')}):`);
  if (result.edges.length === 0) out.push('  nothing: no call was learned from');
  let destination = '';
  let caller = '';
  list(result.edges, options.show * 4, out, (edge) => {
    const lines: string[] = [];
    if (edge.destination !== destination) {
      destination = edge.destination;
      caller = '';
      lines.push(`  ${edge.destinationName} (${edge.destination})`);
    }
    if (edge.caller !== caller) {
      caller = edge.caller;
      lines.push(`    from ${edge.caller}`);
    }
    lines.push(`      ${edgeLine(edge)}`);
    return lines.join('\n');
  });

  if (result.variables.length > 0) {
    out.push('', 'variable segments (check each really is an id):');
    list(result.variables, options.show, out, (v) => `  ${v.destinationName}  ${printable(v.position.prefix)}  ${plural(v.position.distinct, 'distinct value')}, e.g. ${v.position.examples.map(example).join(', ')}`);
  }

  const fewLiterals = result.literals.filter((l) => !l.position.unmatched && !l.position.constant);
  if (fewLiterals.length > 0) {
    out.push('', `kept literal: too few values to be a variable (ids? learn again with a lower --min-distinct, or edit the template):`);
    list(fewLiterals, options.show, out, (v) => `  ${v.destinationName}  ${printable(v.position.prefix)}/…  ${plural(v.position.distinct, 'value')}, e.g. ${v.position.examples.map(example).join(', ')}`);
  }
  const constants = result.literals.filter((l) => l.position.constant);
  if (constants.length > 0) {
    out.push('', 'kept literal: the only number, UUID or hash at its position, seen many times (a constant such as an API version; if it is an id, new ones will be denied: write the variable in by hand):');
    list(constants, options.show, out, (v) => `  ${v.destinationName}  ${printable(v.position.prefix)}/${example(v.position.examples[0]!)}  ${v.position.calls}×`);
  }
  const unmatched = result.literals.filter((l) => l.position.unmatched);
  if (unmatched.length > 0) {
    out.push('', `kept literal: values no variable matches (a space or other character outside {id}'s pattern; ids? new ones will be denied: allow them with a hand-written prefix rule):`);
    list(unmatched, options.show, out, (v) => `  ${v.destinationName}  ${printable(v.position.prefix)}/…  ${plural(v.position.distinct, 'value')}, e.g. ${v.position.examples.map((e) => JSON.stringify(example(e))).join(', ')}`);
  }

  // The policy compares a request with each path of the caller's rules: a rule of many paths slows every Check of that caller.
  const large = Object.values(result.data.mesh.services).flatMap((service) => service.allow.filter((rule) => rule.exact_paths.length > LARGE_RULE_PATHS).map((rule) => ({ service: service.name, rule })));
  if (large.length > 0) {
    out.push(
      '',
      `rules with more than ${LARGE_RULE_PATHS.toLocaleString('en-US')} paths (the policy compares a request with each: measured ~50 ms per Check at 150,000, eval_timeout_ms is 100 by default; make the ids variables or allow a prefix by hand):`,
    );
    list(large, options.show, out, ({ service, rule }) => `  ${service}  "${rule.name}"  ${rule.exact_paths.length.toLocaleString('en-US')} paths`);
  }

  const rare = [...result.edges, ...result.leftOut].filter((e) => e.count < options.rare);
  if (rare.length > 0) {
    out.push('', `seen fewer than ${options.rare} times (rare but real, or a one-off?):`);
    const leftOut = new Set(result.leftOut);
    list(rare, options.show, out, (e) => `  ${e.caller} → ${e.destinationName}  ${edgeLine(e)}${leftOut.has(e) ? '  (left out: --min-count)' : ''}`);
  }

  const policyDenied = result.edges.filter((e) => e.policyDenied > 0);
  if (policyDenied.length > 0) {
    out.push('', 'denied by the serving policy, let through by dry-run (the learned data allows them):');
    list(policyDenied, options.show, out, (e) => `  ${e.caller} → ${e.destinationName}  ${e.method} ${printable(e.path)}  ${e.policyDenied} of ${e.count}`);
  }

  if (result.denied.length > 0) {
    out.push('', 'denied and enforced (not learned; allow them by hand if they are wanted):');
    list(result.denied, options.show, out, (d) => `  ${String(d.count).padStart(7)}  ${d.caller} → ${d.destination}`);
  }

  if (result.probes.length > 0) {
    out.push('', `callers that look like probes or scanners (${result.probesLearned ? 'learned from: --include-probes' : 'not learned; --include-probes learns them'}):`);
    list(result.probes, options.show, out, (p) => `  ${p.caller}: ${p.requests} requests; ${p.reasons.map(printable).join('; ')}`);
  }

  out.push('');
  if (options.out !== undefined) out.push(`wrote ${options.out}: data for policies/authz.rego (data.mesh.services, ${plural(rules, 'rule')}); build and replay it as docs/learn.md shows`);
  else out.push('no --out: nothing written (--out FILE writes the data for policies/authz.rego)');
  return `${out.join('\n')}\n`;
}

function edgeLine(e: Edge): string {
  const seen = e.firstSeen === undefined ? '' : `  ${iso(e.firstSeen)} .. ${iso(e.lastSeen)}`;
  return `${e.method.padEnd(7)} ${printable(e.path)}  ${e.count}×${seen}`;
}

/** Pushes `render` of the first `max` items, then how many were not shown. */
function list<T>(items: readonly T[], max: number, out: string[], render: (item: T) => string): void {
  for (const item of items.slice(0, max)) out.push(render(item));
  if (items.length > max) out.push(`  ... ${items.length - max} more`);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function iso(ms: number | undefined): string {
  return ms === undefined ? '?' : new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

/** An example value for the review, cut to 64 characters: a 1,500-digit id is an id, not a page of digits. */
function example(value: string): string {
  const chars = [...value];
  return printable(chars.length <= 64 ? value : `${chars.slice(0, 61).join('')}… (${chars.length} characters)`);
}
