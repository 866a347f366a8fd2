import { describe, expect, it } from 'vitest';
import { Registry, createScorerMetrics, createSidecarMetrics } from '@sentiment-stream/metrics';
import { mergeExpositions, metricFamilies } from './merge.js';

const scorerPage = `# HELP sentiment_batch_size Texts per inference batch.
# TYPE sentiment_batch_size histogram
sentiment_batch_size_bucket{le="1"} 0
sentiment_batch_size_bucket{le="+Inf"} 3
sentiment_batch_size_sum 12
sentiment_batch_size_count 3

# HELP sentiment_events_produced_total sentiment.v1 events acknowledged by the broker, by label.
# TYPE sentiment_events_produced_total counter
sentiment_events_produced_total{label="positive"} 2
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
`;

describe('metric families', () => {
  it('groups HELP, TYPE and samples, histogram suffixes included', () => {
    const families = metricFamilies(scorerPage);
    expect(families.map((f) => [f.name, f.lines.length])).toEqual([
      ['sentiment_batch_size', 6],
      ['sentiment_events_produced_total', 3],
      ['process_cpu_seconds_total', 3],
    ]);
  });

  it('treats samples without HELP/TYPE as their own (untyped) family', () => {
    expect(metricFamilies('a 1\na{x="y"} 2\nb_total 3\n# EOF\n').map((f) => [f.name, f.lines.length])).toEqual([
      ['a', 2],
      ['b_total', 1],
    ]);
  });
});

describe('merging the scorer page into the sidecar page', () => {
  it('keeps both pages and drops a scraped family the sidecar exports too', () => {
    const own = '# HELP process_cpu_seconds_total sidecar cpu\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 0.2\n';
    const merged = mergeExpositions(own, scorerPage);
    expect(merged.dropped).toEqual(['process_cpu_seconds_total']);
    expect(merged.text.match(/# TYPE process_cpu_seconds_total/g)).toHaveLength(1);
    expect(merged.text).toContain('process_cpu_seconds_total 0.2');
    expect(merged.text).not.toContain('process_cpu_seconds_total 1.5');
    expect(merged.text).toContain('sentiment_batch_size_count 3');
    expect(merged.text.endsWith('\n')).toBe(true);
  });

  it('an empty scrape (scorer down) leaves the sidecar page as it is', () => {
    const own = '# HELP x a\n# TYPE x gauge\nx 1\n';
    expect(mergeExpositions(own, '')).toEqual({ text: own, dropped: [] });
  });

  it('real scorer and sidecar registries merge without one duplicate family', async () => {
    // prom-client registries as the two processes build them: both collect default process metrics.
    const scorer = new Registry();
    const m = createScorerMetrics(scorer);
    m.produced.inc({ label: 'positive' });
    m.batchSize.observe(4);
    const sidecar = new Registry();
    const s = createSidecarMetrics(sidecar, { lagReadAgeSeconds: () => 3 });
    s.lag.set({ consumergroup: 'g', topic: 't', partition: '0' }, 5);
    s.scorerUp.set(1);
    const merged = mergeExpositions(await sidecar.metrics(), await scorer.metrics());
    expect(merged.dropped).toEqual([]);
    const types = merged.text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
    expect(merged.text).toContain('kafka_consumergroup_lag{consumergroup="g",topic="t",partition="0"} 5');
    expect(merged.text).toContain('sentiment_lag_read_age_seconds 3');
    expect(merged.text).toContain('sentiment_sidecar_process_cpu_seconds_total');
    expect(merged.text).toMatch(/^process_cpu_seconds_total \d/m);
  });
});
