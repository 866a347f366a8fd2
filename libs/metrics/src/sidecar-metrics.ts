import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * The sidecar's process metrics carry this prefix. The sidecar serves the scorer's metrics on the
 * same page, and the scorer already exports the unprefixed `process_*` and `nodejs_*` families;
 * two families of one name on a page is an invalid exposition, so the sidecar's get their own names.
 */
export const SIDECAR_DEFAULT_METRICS_PREFIX = 'sentiment_sidecar_';

/**
 * Every metric the metrics sidecar exports itself, registered on the registry passed in.
 *
 * The `kafka_*` gauges keep kafka_exporter's names and labels (`consumergroup`, `topic`,
 * `partition`) on purpose: dashboards and alerts written for kafka_exporter work unchanged. They
 * also carry the group as `group` (same value, so no extra series) for queries written that way. They are
 * the only metrics without the `sentiment_` prefix. Labels are bounded by the partitions of
 * INPUT_TOPICS and the one group.
 */
export function createSidecarMetrics(registry: Registry, opts: { lagReadAgeSeconds: () => number }) {
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: SIDECAR_DEFAULT_METRICS_PREFIX });
  return {
    scorerUp: new Gauge({
      name: 'sentiment_scorer_up',
      help: "1 when this scrape read the scorer's /metrics, 0 when the scorer did not answer in time or failed.",
      registers,
    }),
    scorerScrapeSeconds: new Gauge({
      name: 'sentiment_scorer_scrape_duration_seconds',
      help: "Time this scrape spent reading the scorer's /metrics (up to the timeout when it is down).",
      registers,
    }),
    lag: new Gauge({
      name: 'kafka_consumergroup_lag',
      help: 'Records the consumer group has yet to read, per partition (high watermark minus committed offset; low watermark when none is committed).',
      labelNames: ['group', 'consumergroup', 'topic', 'partition'],
      registers,
    }),
    lagSum: new Gauge({
      name: 'kafka_consumergroup_lag_sum',
      help: 'Records the consumer group has yet to read, summed over the partitions of each topic.',
      labelNames: ['group', 'consumergroup', 'topic'],
      registers,
    }),
    topicOffset: new Gauge({
      name: 'kafka_topic_partition_current_offset',
      help: 'High watermark of each input partition; its rate is the rate records arrive, whether or not the scorer keeps up.',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    drainSeconds: new Gauge({
      name: 'sentiment_consumergroup_drain_seconds',
      help: 'Estimated seconds for the consumer group to read the lag of each topic at the rate it committed offsets over the last DRAIN_WINDOW_MS: 0 without lag, DRAIN_MAX_SECONDS (also the upper bound) with lag and no progress. No series until the sidecar has read for a whole window.',
      labelNames: ['group', 'consumergroup', 'topic'],
      registers,
    }),
    processingRate: new Gauge({
      name: 'sentiment_consumergroup_processing_rate',
      help: 'Offsets per second the consumer group committed on each topic over the last DRAIN_WINDOW_MS (records and the transaction markers committed past).',
      labelNames: ['group', 'consumergroup', 'topic'],
      registers,
    }),
    lagReadAge: new Gauge({
      name: 'sentiment_lag_read_age_seconds',
      help: 'Seconds since the last successful consumer-lag read (since the sidecar started when none has succeeded yet).',
      registers,
      // Computed when scraped, so it keeps growing while reads fail instead of freezing at the last value.
      collect() {
        this.set(opts.lagReadAgeSeconds());
      },
    }),
    lagReadFailures: new Counter({
      name: 'sentiment_lag_read_failures_total',
      help: 'Consumer-lag reads that failed (Kafka unreachable, group or topic metadata unavailable).',
      registers,
    }),
  };
}

export type SidecarMetrics = ReturnType<typeof createSidecarMetrics>;
