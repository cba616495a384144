/**
 * `gatehouse learn`: decision logs → a least-privilege allow-list for the example policy
 * (policies/authz.rego) and a review of it. The logic is in learn/; this reads the files, writes
 * the data and prints the review (docs/learn.md).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GatehouseError, describeThrown } from '../errors.js';
import { Learner } from '../learn/learn.js';
import { learnSummary } from '../learn/summary.js';
import type { Io, Values } from './common.js';
import { readDecisionLogs } from './decision-log-lines.js';
import { terminalProgress } from './progress.js';

/** Learns from the logs in `positionals`; writes --out (its folder made if missing; "-": standard output, the review then on standard error). 0 once done, 2 for usage errors and unreadable files. */
export async function learn(values: Values, positionals: string[], io: Io): Promise<number> {
  const learner = new Learner({
    minDistinct: whole(values['min-distinct'], 'min-distinct', 10, 2),
    minCount: whole(values['min-count'], 'min-count', 1, 1),
    probeTopLevel: whole(values['probe-paths'], 'probe-paths', 10, 2),
    includeProbes: values['include-probes'] === true,
  });
  const rare = whole(values.rare, 'rare', 3, 0);
  const show = whole(values.show, 'show', 50, 1);
  const out = values.out === undefined ? undefined : String(values.out);
  if (positionals.filter((f) => f === '-').length > 1) throw new GatehouseError('usage', '"-" (standard input) can be given once');

  const progress = terminalProgress(io.stderr, 'learn');
  for await (const { file, line, text, event, withoutInput } of readDecisionLogs(positionals)) {
    learner.add(event, `${file}:${line}`, text.trim() === '', withoutInput);
    progress?.line(file);
  }
  const result = learner.finish();
  if (result.lines === 0) throw new GatehouseError('usage', `no decision-log lines in ${positionals.join(', ')}: the logs are empty (decision_log writes one JSON line per Check)`);
  if (result.lines === result.notDecisions) {
    // Not one decision-log line (lines without an input are counted as refused, not here).
    throw new GatehouseError('usage', `none of the ${result.lines} lines in ${positionals.join(', ')} is a decision-log line with an input (first: ${result.notDecisionExamples.join(', ')}); is this a gatehouse decision log (decision_log), not the operational log?`);
  }
  const json = `${JSON.stringify(result.data, null, 2)}\n`;
  if (out === '-') {
    io.stdout(json);
    io.stderr(learnSummary(result, positionals, { rare, show, out: 'standard output' }));
    return 0;
  }
  if (out !== undefined) {
    try {
      // Like build's --out and the decision log: the folder is made if missing (docs: --out learned/data.json).
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, json);
    } catch (error) {
      throw new GatehouseError('usage', `--out ${out} cannot be written: ${describeThrown(error)}`);
    }
  }
  io.stdout(learnSummary(result, positionals, { rare, show, out }));
  return 0;
}

function whole(value: Values[string], flag: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < min) {
    throw new GatehouseError('usage', `--${flag} must be a whole number${min > 0 ? ` of at least ${min}` : ''}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}
