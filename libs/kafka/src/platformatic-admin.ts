import { readFileSync } from 'node:fs';
import { Admin, type BaseOptions } from '@platformatic/kafka';
import { backoffDelay } from '@sentiment-stream/runtime';
import { tpKey, type TopicPartition } from './driver.js';
import type { KafkaSettings } from './settings.js';

/** @platformatic/kafka client options from the validated settings (both drivers use its admin). */
export function baseOptions(s: KafkaSettings): BaseOptions {
  return {
    clientId: s.KAFKA_CLIENT_ID,
    bootstrapBrokers: s.KAFKA_BROKERS,
    connectTimeout: 3_000,
    timeout: 10_000,
    // Ride out broker outages: retry with the project's backoff, capped at 10 s between attempts.
    retries: 1_000_000,
    retryDelay: (_client, _op, attempt) => backoffDelay(attempt, { initialMs: 250, maxMs: 10_000 }),
    ...(s.KAFKA_SSL ? { tls: s.KAFKA_SSL_CA_FILE ? { ca: [readFileSync(s.KAFKA_SSL_CA_FILE, 'utf8')] } : {} } : {}),
    ...(s.KAFKA_SASL_MECHANISM !== 'none'
      ? { sasl: { mechanism: s.KAFKA_SASL_MECHANISM.toUpperCase() as 'PLAIN', username: s.KAFKA_SASL_USERNAME ?? '', password: s.KAFKA_SASL_PASSWORD ?? '' } }
      : {}),
  };
}


/**
 * The group's committed offsets with require_stable (KIP-447): the broker answers only once no
 * transactional offset commit is pending for these partitions. Without it (kafkajs's OffsetFetch
 * v4 cannot ask) a read just after a transaction settles can return the offset from before it: the
 * exactly-once outage scenario then scored that transaction's records again (128 duplicate ids
 * behind a read_committed reader in one run of the old suite).
 *
 * Its own admin, with few retries, dropped after any failure: @platformatic/kafka 2.12.1's admin
 * keeps asking the group coordinator it found first, and retries NOT_COORDINATOR for as long as its
 * retries last. In the 3-node scenario an exactly-once scorer settling a failed transaction asked
 * the old coordinator every 10 s for minutes (strace: OffsetFetch answered NOT_COORDINATOR), 4,800
 * records in flight. The caller's retry (with backoff) gets a new admin, which finds the coordinator.
 */
export function stableOffsetsReader(s: KafkaSettings): { read(groupId: string, tps: readonly TopicPartition[]): Promise<Map<string, bigint>>; close(): Promise<void> } {
  let admin: Admin | undefined;
  return {
    async read(groupId, tps) {
      const a = (admin ??= new Admin({ ...baseOptions(s), retries: 3, clientId: `${s.KAFKA_CLIENT_ID}-offsets` }));
      try {
        const topics = [...new Set(tps.map((t) => t.topic))];
        const [group] = await a.listConsumerGroupOffsets({
          groups: [{ groupId, topics: topics.map((name) => ({ name, partitionIndexes: tps.filter((t) => t.topic === name).map((t) => t.partition) })) }],
          requireStable: true,
        });
        const out = new Map<string, bigint>();
        for (const t of group?.topics ?? []) for (const p of t.partitions) out.set(tpKey(t.name, p.partitionIndex), p.committedOffset);
        return out;
      } catch (err) {
        if (admin === a) admin = undefined;
        await a.close().catch(() => undefined);
        throw err;
      }
    },
    async close() {
      await admin?.close().catch(() => undefined);
      admin = undefined;
    },
  };
}
