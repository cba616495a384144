/**
 * The Grafana dashboard in observability/grafana: a dashboard Grafana imports (datasource, job
 * and instance variables; unique panel ids; every query on the selected datasource, jobs and
 * instances) holding the panels an SRE needs in an incident. Its queries run against a real
 * Prometheus in prometheus-scrape.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dashboardExpressions, loadDashboard } from './prometheus-tools.js';

const { dashboard, panels, dataPanels } = loadDashboard();

describe('Grafana dashboard', () => {
  it('is a dashboard with a stable uid, a schema version and a time range', () => {
    expect(dashboard).toMatchObject({ uid: 'gatehouse', title: 'gatehouse', editable: true, time: { from: expect.any(String), to: 'now' } });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.id ?? null).toBeNull(); // import assigns the id
  });

  it('has a Prometheus datasource variable and job and instance variables that use it', () => {
    const variables = Object.fromEntries(dashboard.templating.list.map((v: any) => [v.name, v]));
    expect(variables.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['job', 'instance']) {
      expect(variables[name]).toMatchObject({ type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' }, includeAll: true, allValue: '.*' });
      expect(variables[name].query.query).toMatch(new RegExp(`^label_values\\(gatehouse_ready.*, ${name}\\)$`));
    }
    expect(variables.instance.query.query).toContain('job=~"$job"');
  });

  it('gives every panel a unique id, a place on the grid and queries on the selected datasource', () => {
    const ids = panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      expect(panel.gridPos, panel.title).toMatchObject({ h: expect.any(Number), w: expect.any(Number), x: expect.any(Number), y: expect.any(Number) });
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
    }
    for (const panel of dataPanels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.description, panel.title).toBeTruthy();
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      const refIds = panel.targets.map((target: any) => target.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets) expect(target.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it('filters every gatehouse series by the job and instance variables', () => {
    for (const expr of dashboardExpressions()) {
      const selectors = expr.match(/gatehouse_[a-z0-9_]+(\{[^}]*\})?/g) ?? [];
      expect(selectors.length, expr).toBeGreaterThan(0);
      for (const selector of selectors) {
        expect(selector, expr).toContain('job=~"$job"');
        expect(selector, expr).toContain('instance=~"$instance"');
      }
    }
  });

  it('has the panels an SRE opens in an incident', () => {
    const titles = dataPanels.map((panel) => panel.title);
    for (const title of [
      'Checks/s by outcome',
      'Top deny reasons',
      'Check errors by code',
      'Check latency p50 / p99',
      'Policy evaluation latency p50 / p99',
      'Cache hit ratio',
      'Policy revision by instance',
      'Policy reloads by result',
      'Serving certificate expiry',
      'Decision-log lines/s by result',
      'Shadow candidate comparisons/s',
      'Dry-run overrides/s',
    ]) {
      expect(titles).toContain(title);
    }
  });

  it('describes every panel in docs/observability.md', () => {
    const docs = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');
    for (const panel of dataPanels) expect(docs, panel.title).toContain(`**${panel.title}**`);
  });
});
