import { accessSync, constants } from 'node:fs';
import { ConfigError, boolean, integer, list, oneOf, optionalString, string, type ConfigOf } from '@sentiment-stream/config';

/** How to reach the cluster; shared by every process that talks to Kafka. */
export const kafkaSettings = {
  KAFKA_BROKERS: list({ doc: 'Bootstrap brokers, `host:port`, comma-separated.', default: ['127.0.0.1:9092'] }),
  KAFKA_CLIENT_ID: string({ doc: 'Client id sent to the brokers (shows in broker logs and quotas).', default: 'sentiment-stream' }),
  KAFKA_SSL: boolean({ doc: 'Connect with TLS.', default: false }),
  KAFKA_SSL_CA_FILE: optionalString({ doc: 'PEM file of the CA that signed the brokers\' certificates (default: the system CAs).' }),
  KAFKA_SASL_MECHANISM: oneOf(['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const, {
    doc: 'SASL mechanism; `plain` only over TLS in production.',
    default: 'none',
  }),
  KAFKA_SASL_USERNAME: optionalString({ doc: 'SASL user name.' }),
  KAFKA_SASL_PASSWORD: optionalString({ doc: 'SASL password.', secret: true }),
};
export type KafkaSettings = ConfigOf<typeof kafkaSettings>;

/** The Kafka client libraries the transport can run on. */
export const KAFKA_CLIENTS = ['platformatic', 'kafkajs'] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

/**
 * Every setting of the consume -> publish -> commit transport, with its default: the one place they
 * live (the scorer's schema spreads this table; docs/configuration.md is generated from it).
 */
export const transportSettings = {
  KAFKA_CLIENT: oneOf(KAFKA_CLIENTS, {
    doc: 'Kafka client library: `platformatic` (@platformatic/kafka: every codec, static membership, generation-fenced transactional offsets, keeps fetching while a batch is scored) or `kafkajs` (kafkajs 2.2.4 with snappy, lz4 and zstd decoders registered). The default won on throughput, recovery and duplicates (docs/architecture.md).',
    default: 'platformatic',
  }),
  GROUP_ID: string({ doc: 'Consumer group; replicas with the same group share the partitions.', default: 'sentiment-scorer' }),
  GROUP_INSTANCE_ID: optionalString({
    doc: 'Static group membership (KIP-345, `platformatic` only): a member that restarts with the same id within SESSION_TIMEOUT_MS gets its partitions back without a rebalance. The chart sets it to the pod name. Unset: dynamic membership.',
  }),
  SESSION_TIMEOUT_MS: integer({
    doc: 'How long the group waits for a silent member (a crashed one) before its partitions move. With static membership this is also how long a restarting pod may take to come back without a rebalance.',
    default: 30_000,
    min: 6_000,
    max: 300_000,
  }),
  DELIVERY: oneOf(['at-least-once', 'exactly-once'] as const, {
    doc: '`exactly-once` publishes and commits in one transaction; readers must use read_committed.',
    default: 'at-least-once',
  }),
  TRANSACTIONAL_ID: optionalString({
    doc: "Exactly-once only: the producer's transactional id. Unset means `GROUP_ID-<GROUP_INSTANCE_ID or hostname>`: stable across restarts of one pod, so a restarted replica fences its old self at once.",
  }),
  TRANSACTION_TIMEOUT_MS: integer({
    doc: "Exactly-once only: the broker aborts a transaction left open this long (a replica killed mid-transaction whose replacement has another transactional id). read_committed readers of the output wait at most this long behind it. The scorer's own transactions take milliseconds.",
    default: 10_000,
    min: 1_000,
    max: 900_000,
  }),
  // 256 KiB (1,800 records of ~140 bytes) instead of 1 MiB: the records of one response are held
  // until all are scored, so it is memory held and a step of latency under a backlog. Scorer peak
  // RSS 336 -> 288 MB (medians of 3 interleaved drains of 50,000) at 8,300-9,200 vs 8,200-8,800
  // msgs/s (docs/performance.md "Memory").
  FETCH_MAX_BYTES: integer({
    doc: 'Bytes one fetch request may return. `platformatic`: one request per broker, the same bound per partition; `kafkajs`: one request per broker, at most 1 MiB per partition. In-flight work is bounded by MAX_INFLIGHT_MESSAGES plus one fetch.',
    default: 256 << 10,
    min: 1 << 16,
    max: 256 << 20,
  }),
  MAX_INFLIGHT_MESSAGES: integer({
    doc: 'Records received and not yet committed at which fetching pauses (it resumes below half). Bounds memory with the largest fetch: at most this plus one fetch response is ever in flight.',
    default: 4_096,
    min: 1,
    max: 1_000_000,
  }),
  PRODUCER_COMPRESSION: oneOf(['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const, {
    doc: 'Compression of the events and dead letters the scorer writes (docs/performance.md measured the choice).',
    default: 'lz4',
  }),
  OUTPUT_RETRY_MAX_MS: integer({
    doc: 'A record whose output the broker refuses (not a transient error) pauses its own partition; the refused output is retried with backoff up to this interval until it is accepted.',
    default: 60_000,
    min: 1_000,
    max: 3_600_000,
  }),
};
export type TransportSettings = ConfigOf<typeof transportSettings>;

/** `host:port` with a port from 1 to 65535; IPv6 hosts in brackets. */
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/;

/** Rules that span variables, and files that must be readable; run after loadConfig. */
export function checkKafkaSettings(s: KafkaSettings): void {
  for (const broker of s.KAFKA_BROKERS) {
    const m = HOST_PORT.exec(broker);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65_535) throw new ConfigError('KAFKA_BROKERS', `must list host:port pairs with a port from 1 to 65535 (got "${broker}")`);
  }
  if (s.KAFKA_SSL_CA_FILE !== undefined) {
    if (!s.KAFKA_SSL) throw new ConfigError('KAFKA_SSL_CA_FILE', 'is set but KAFKA_SSL is not true');
    try {
      accessSync(s.KAFKA_SSL_CA_FILE, constants.R_OK);
    } catch (err) {
      throw new ConfigError('KAFKA_SSL_CA_FILE', `names a file that cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (s.KAFKA_SASL_MECHANISM === 'none') return;
  if (!s.KAFKA_SASL_USERNAME) throw new ConfigError('KAFKA_SASL_USERNAME', `is required when KAFKA_SASL_MECHANISM=${s.KAFKA_SASL_MECHANISM}`);
  if (!s.KAFKA_SASL_PASSWORD) throw new ConfigError('KAFKA_SASL_PASSWORD', `is required when KAFKA_SASL_MECHANISM=${s.KAFKA_SASL_MECHANISM}`);
}

export function checkTransportSettings(s: TransportSettings): void {
  if (s.GROUP_INSTANCE_ID !== undefined && s.KAFKA_CLIENT === 'kafkajs') {
    throw new ConfigError('GROUP_INSTANCE_ID', 'needs KAFKA_CLIENT=platformatic (kafkajs has no static membership)');
  }
  if (s.TRANSACTIONAL_ID !== undefined && s.DELIVERY !== 'exactly-once') {
    throw new ConfigError('TRANSACTIONAL_ID', 'is set but DELIVERY is not exactly-once');
  }
}
