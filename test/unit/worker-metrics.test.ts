/** addCumulative: the primary's running sum of departed workers' counters and histograms. */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { addCumulative } from '../../src/cluster/worker-pool.js';

async function workerMetrics(decisions: number, latency: number[], inflight: number) {
  const registry = new Registry();
  const counter = new Counter({ name: 'd_total', help: 'd', labelNames: ['outcome'], registers: [registry] });
  const histogram = new Histogram({ name: 'l_seconds', help: 'l', buckets: [0.01, 0.1], registers: [registry] });
  const gauge = new Gauge({ name: 'g', help: 'g', registers: [registry] });
  counter.inc({ outcome: 'allow' }, decisions);
  if (decisions > 1) counter.inc({ outcome: 'deny' }, 1);
  for (const value of latency) histogram.observe(value);
  gauge.set(inflight);
  return registry.getMetricsAsJSON();
}

describe('addCumulative', () => {
  it('sums counters and histograms label by label and leaves gauges out', async () => {
    const first = await workerMetrics(10, [0.005, 0.05], 3);
    const second = await workerMetrics(1, [0.5], 7);
    const retired = addCumulative(addCumulative([], first), second);
    expect(retired.map((m) => m.name).sort()).toEqual(['d_total', 'l_seconds']);
    const text = await AggregatorRegistry.aggregate([retired]).metrics();
    expect(text).toContain('d_total{outcome="allow"} 11');
    expect(text).toContain('d_total{outcome="deny"} 1');
    expect(text).toContain('l_seconds_bucket{le="0.01"} 1');
    expect(text).toContain('l_seconds_bucket{le="+Inf"} 3');
    expect(text).toContain('l_seconds_count 3');
    // The inputs are not changed.
    expect(addCumulative([], first).find((m) => m.name === 'd_total')!.values.find((v) => v.labels.outcome === 'allow')!.value).toBe(10);
  });

  it('added to a live worker\'s reply, the sum equals both workers\' totals', async () => {
    const retired = addCumulative([], await workerMetrics(5, [], 1));
    const live = await workerMetrics(2, [], 1);
    const text = await AggregatorRegistry.aggregate([live, retired]).metrics();
    expect(text).toContain('d_total{outcome="allow"} 7');
  });
});
