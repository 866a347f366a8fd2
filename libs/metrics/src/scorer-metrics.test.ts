import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createScorerMetrics } from './index.js';

describe('scorer metrics', () => {
  it('follow Prometheus naming: one prefix, base units, _total on counters', async () => {
    const registry = new Registry();
    createScorerMetrics(registry);
    const metrics = await registry.getMetricsAsJSON();
    const ours = metrics.filter((m) => m.name.startsWith('sentiment_'));
    expect(ours.length).toBeGreaterThanOrEqual(12);
    for (const m of ours) {
      if (m.type === 'counter') expect(m.name).toMatch(/_total$/);
      if (/duration|latency/.test(m.name)) expect(m.name).toMatch(/_seconds$/);
    }
    expect(metrics.some((m) => m.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('registers on the registry passed in, so two scorers in one process do not collide', () => {
    expect(() => {
      createScorerMetrics(new Registry());
      createScorerMetrics(new Registry());
    }).not.toThrow();
  });
});
