import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createSidecarMetrics } from './sidecar-metrics.js';

describe('sidecar metrics', () => {
  it('exports the drain estimate and the processing rate per group and topic, with kafka_exporter label names', async () => {
    const registry = new Registry();
    const m = createSidecarMetrics(registry, { lagReadAgeSeconds: () => 0 });
    m.drainSeconds.set({ group: 'g', consumergroup: 'g', topic: 'reviews' }, 310);
    m.processingRate.set({ group: 'g', consumergroup: 'g', topic: 'reviews' }, 20);
    const page = await registry.metrics();
    expect(page).toContain('# TYPE sentiment_consumergroup_drain_seconds gauge');
    expect(page).toContain('sentiment_consumergroup_drain_seconds{group="g",consumergroup="g",topic="reviews"} 310');
    expect(page).toContain('# TYPE sentiment_consumergroup_processing_rate gauge');
    expect(page).toContain('sentiment_consumergroup_processing_rate{group="g",consumergroup="g",topic="reviews"} 20');
  });

  it('exports no drain series before one is set (a fresh sidecar has no estimate yet)', async () => {
    const registry = new Registry();
    createSidecarMetrics(registry, { lagReadAgeSeconds: () => 0 });
    expect(await registry.metrics()).not.toMatch(/^sentiment_consumergroup_drain_seconds\{/m);
  });

  it('keeps every own family apart from the scorer’s unprefixed process metrics', async () => {
    const registry = new Registry();
    createSidecarMetrics(registry, { lagReadAgeSeconds: () => 0 });
    const names = [...(await registry.metrics()).matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]!);
    expect(names.filter((n) => !/^(sentiment_|kafka_)/.test(n))).toEqual([]);
  });
});
