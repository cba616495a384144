/**
 * A real Prometheus scrapes a real gatehouse (example policy, real gRPC Checks) through its admin
 * port, answers a histogram_quantile over gatehouse_check_duration_seconds with a number, loads
 * the alert rules healthy, and runs every dashboard query without error.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startTestApp, type TestApp } from '../support/app.js';
import { buildExampleBundle, tempDir } from '../support/policy.js';
import { CHECKOUT, INVENTORY, PAYMENTS, checkRequestJson } from '../support/requests.js';
import { opaOrSkip } from '../support/tools.js';
import { ALERT_RULES, dashboardExpressions, poll, prometheusOrSkip, startPrometheus, withVariables, type RunningPrometheus } from './prometheus-tools.js';

const opa = opaOrSkip();
const tools = prometheusOrSkip();
const P99 = 'histogram_quantile(0.99, sum by (le) (rate(gatehouse_check_duration_seconds_bucket{job="gatehouse"}[1m])))';

describe.skipIf(opa.skip || tools.skip)('a real Prometheus scraping gatehouse', () => {
  let t: TestApp;
  let prometheus: RunningPrometheus;
  let traffic: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    const dir = tempDir();
    t = await startTestApp({ bundle: buildExampleBundle(opa.opa, dir) });
    prometheus = await startPrometheus(tools.prometheus, { targets: [`127.0.0.1:${t.app.adminPort}`], ruleFiles: [ALERT_RULES] });
    // Keep Checks flowing while Prometheus scrapes, so rate() sees counters move between scrapes.
    const send = () =>
      Promise.all([
        t.client.check(checkRequestJson({ source: CHECKOUT, destination: INVENTORY })),
        t.client.check(checkRequestJson({ source: PAYMENTS, destination: INVENTORY })),
      ]).catch(() => undefined);
    await send();
    traffic = setInterval(send, 50);
  });

  afterAll(async () => {
    if (traffic) clearInterval(traffic);
    await prometheus?.stop();
    await t?.stop();
  });

  it('scrapes the admin port', async () => {
    const up = await poll(async () => {
      const data = await prometheus.api('query', { query: 'up{job="gatehouse"}' });
      return data.result.length === 1 && data.result[0].value[1] === '1' ? data.result[0] : undefined;
    }, 15_000, `up{job="gatehouse"} was not 1\n${prometheus.output()}`);
    expect(up.metric.instance).toBe(`127.0.0.1:${t.app.adminPort}`);
    const ready = await prometheus.api('query', { query: 'gatehouse_ready' });
    expect(ready.result[0].value[1]).toBe('1');
  });

  it('answers a histogram_quantile over gatehouse_check_duration_seconds with a number', async () => {
    const p99 = await poll(async () => {
      const data = await prometheus.api('query', { query: P99 });
      const value = Number(data.result[0]?.value[1]);
      return Number.isFinite(value) ? value : undefined;
    }, 20_000, `${P99} returned no number\n${prometheus.output()}`);
    expect(p99).toBeGreaterThan(0);
    expect(p99).toBeLessThanOrEqual(1); // the largest finite bucket
  });

  it('counts the allows and denies it was sent, by outcome and reason', async () => {
    const data = await prometheus.api('query', { query: 'sum by (outcome, reason) (gatehouse_decisions_total{job="gatehouse"})' });
    const byOutcome = Object.fromEntries(data.result.map((r: any) => [`${r.metric.outcome}/${r.metric.reason}`, Number(r.value[1])]));
    expect(byOutcome['allow/policy_allowed']).toBeGreaterThan(0);
    expect(byOutcome['deny/policy_denied']).toBeGreaterThan(0);
  });

  it('loads the alert rules, evaluates them healthy and nothing fires', async () => {
    const expected = parse(readFileSync(ALERT_RULES, 'utf8')).groups.flatMap((group: any) => group.rules.map((rule: any) => rule.alert ?? rule.record));
    const rules = await poll(async () => {
      const data = await prometheus.api('rules');
      const all = data.groups.flatMap((group: any) => group.rules);
      // Health is "unknown" until the first evaluation (every second here).
      return all.length === expected.length && all.every((rule: any) => rule.health === 'ok') ? all : undefined;
    }, 15_000, `the rules did not all evaluate healthy\n${prometheus.output()}`);
    expect(rules.map((rule: any) => rule.name)).toEqual(expected);
    for (const rule of rules) expect(rule.lastError ?? '', rule.name).toBe('');
    const firing = rules.filter((rule: any) => rule.type === 'alerting' && rule.state === 'firing').map((rule: any) => rule.name);
    expect(firing).toEqual([]);
  });

  it('runs every dashboard query without error', async () => {
    for (const expr of dashboardExpressions()) {
      const query = withVariables(expr, 'gatehouse');
      await expect(prometheus.api('query', { query }), query).resolves.toHaveProperty('resultType');
    }
  });

  it('has every metric the dashboard and the alerts use on /metrics', async () => {
    const exposition = (await t.admin('/metrics')).text;
    const families = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const used = new Set<string>();
    const rules = readFileSync(ALERT_RULES, 'utf8');
    for (const text of [...dashboardExpressions(), ...parse(rules).groups.flatMap((g: any) => g.rules.map((r: any) => r.expr))]) {
      for (const [name] of text.matchAll(/\bgatehouse_[a-z0-9_]+/g)) used.add(name.replace(/_(bucket|count|sum)$/, ''));
    }
    // TLS metrics exist only when gatehouse serves TLS (this instance does not).
    const tlsOnly = new Set(['gatehouse_tls_certificate_expiry_seconds', 'gatehouse_tls_reloads_total']);
    for (const name of used) {
      if (tlsOnly.has(name)) expect(families, name).not.toContain(name);
      else expect(families, name).toContain(name);
    }
  });
});
