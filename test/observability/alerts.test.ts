/**
 * The Prometheus alert rules in observability/prometheus: valid (`promtool check rules`) and
 * behaving as their unit tests say (`promtool test rules`), with a firing and a non-firing case
 * for every alert.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ALERT_RULES, ALERT_TESTS, PROMETHEUS_DIR, prometheusOrSkip } from './prometheus-tools.js';

const tools = prometheusOrSkip();

interface Rule { alert?: string; record?: string; expr: string }
interface AlertCase { alertname: string; eval_time: string; exp_alerts?: unknown[] }
const rules: Rule[] = parse(readFileSync(ALERT_RULES, 'utf8')).groups.flatMap((group: { rules: Rule[] }) => group.rules);
const tests: { name: string; alert_rule_test?: AlertCase[] }[] = parse(readFileSync(ALERT_TESTS, 'utf8')).tests;
const alertNames = rules.flatMap((rule) => (rule.alert ? [rule.alert] : []));
const cases = tests.flatMap((test) => test.alert_rule_test ?? []);

function promtool(...args: string[]) {
  const run = spawnSync(tools.promtool, args, { cwd: PROMETHEUS_DIR, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('alert rules (data)', () => {
  it('covers what an SRE is paged for', () => {
    expect(alertNames).toEqual([
      'GatehouseCheckLatencyHigh',
      'GatehouseDenySpike',
      'GatehouseCheckErrors',
      'GatehouseRequestErrors',
      'GatehousePolicyReloadFailed',
      'GatehousePolicyStale',
      'GatehouseNotReady',
      'GatehouseCertificateExpiresIn7Days',
      'GatehouseCertificateExpiresIn1Day',
      'GatehouseTLSReloadFailing',
      'GatehouseDecisionLogDropping',
    ]);
    expect(rules.filter((rule) => rule.record)).toHaveLength(4);
  });

  it('has a firing and a non-firing unit test for every alert, and tests only alerts that exist', () => {
    expect(tests).toHaveLength(9);
    expect(cases).toHaveLength(22);
    for (const name of alertNames) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${name} has a firing case`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${name} has a non-firing case`).toBe(true);
    }
    for (const c of cases) expect(alertNames).toContain(c.alertname);
  });

  it('links every alert to its section in docs/observability.md', () => {
    const docs = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
    for (const name of alertNames) expect(docs, name).toContain(`### ${name}`);
  });
});

describe.skipIf(tools.skip)('alert rules (promtool)', () => {
  it('pass promtool check rules', () => {
    const run = promtool('check', 'rules', 'alerts.yaml');
    expect(run.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(run.status, run.output).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const run = promtool('test', 'rules', 'alerts.test.yaml');
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain('SUCCESS');
    expect(run.output).not.toContain('FAILED');
  });
});
