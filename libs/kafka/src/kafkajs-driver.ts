import type { SourceRecord } from '@sentiment-stream/events';
import { sleep } from '@sentiment-stream/runtime';
import { CompressionTypes, type Admin, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Message, type Producer } from 'kafkajs';
import type { Logger } from './client.js';
import { registerKafkajsCodecs } from './codecs.js';
import { tpKey, type Driver, type DriverHandlers, type PartitionOffset, type PlacedMessage, type TopicInfo } from './driver.js';

export interface DriverOptions {
  groupId: string;
  topics: string[];
  exactlyOnce: boolean;
  transactionalId: string;
  transactionTimeoutMs: number;
  sessionTimeoutMs: number;
  fetchMaxBytes: number;
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  logger: Logger;
}

const COMPRESSION = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
} as const;

/** How often a kafkajs eachBatch heartbeats while its records are being scored. */
const HEARTBEAT_EVERY_MS = 1_000;

/**
 * kafkajs 2.2.4 behind the transport. Each fetched partition batch is handed over and waited on
 * inside `eachBatch`, heartbeating meanwhile: kafkajs fetches a broker's partitions again only when
 * every batch of the previous fetch returned, and rejoins a rebalancing group only then, so a
 * member never gives up a partition with its work half done. The price is latency (about two fetch
 * cycles) and no static membership; @platformatic/kafka has neither limit.
 */
export function createKafkajsDriver(kafka: Kafka, o: DriverOptions): Driver {
  registerKafkajsCodecs();
  const log = o.logger;
  const makeProducer = () =>
    kafka.producer({
      // Every message carries the partition the transport chose (Java's murmur2): pass it through.
      createPartitioner: () => ({ message }) => message.partition ?? 0,
      // Idempotent with one request in flight: broker retries can neither duplicate nor reorder.
      idempotent: true,
      maxInFlightRequests: 1,
      // Rides out a broker outage (kafkajs warns that a bounded retry count may break
      // idempotence); refusals are not retried, and reach the transport at once.
      retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: Number.MAX_SAFE_INTEGER },
      ...(o.exactlyOnce ? { transactionalId: o.transactionalId, transactionTimeout: o.transactionTimeoutMs } : {}),
    });
  let producer: Producer = makeProducer();
  let admin: Admin | undefined;
  let consumer: Consumer | undefined;
  let generation = 0;
  let held = new Set<string>();
  let fetchingPaused = false;
  const compression = COMPRESSION[o.compression];

  const getAdmin = async () => {
    if (!admin) {
      const a = kafka.admin({ retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 5 } });
      await a.connect();
      admin = a;
    }
    return admin;
  };

  /** kafkajs registers a transactional id only when a transaction begins: begin one and drop it. */
  const registerTransactionalId = async (p: Producer) => {
    const tx = await p.transaction();
    await tx.abort();
  };

  const topicMessages = (messages: PlacedMessage[]) => {
    const byTopic = new Map<string, Message[]>();
    for (const m of messages) {
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: m.value, headers: m.headers, partition: m.partition });
      byTopic.set(m.topic, list);
    }
    return [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs }));
  };

  const offsetsByTopic = (offsets: PartitionOffset[]) => {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const t of offsets) {
      const list = byTopic.get(t.topic) ?? [];
      list.push({ partition: t.partition, offset: String(t.offset) });
      byTopic.set(t.topic, list);
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  };

  const eachBatch = async (payload: EachBatchPayload, h: DriverHandlers) => {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const records = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
    const k = tpKey(batch.topic, batch.partition);
    // lastOffset() counts a trailing transaction marker: committing past it keeps lag at 0.
    const positions = new Map([[k, BigInt(batch.lastOffset()) + 1n]]);
    const done = await waitHeartbeating(h.records(records, positions, generation), payload.heartbeat, log);
    const last = done.get(k);
    // Only what is done: kafkajs fetches the partition again from the first record not resolved.
    if (last !== undefined) payload.resolveOffset(String(last));
  };

  const pauseAll = () => {
    if (!consumer) return;
    consumer.pause(o.topics.map((topic) => ({ topic })));
  };

  return {
    name: 'kafkajs',
    needsDrainToRewind: false,
    async connect() {
      await producer.connect();
      if (o.exactlyOnce) await registerTransactionalId(producer);
      await getAdmin();
    },
    async describeTopics(topics) {
      const a = await getAdmin();
      const existing = new Set(await a.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length > 0) throw new Error(`topic${missing.length > 1 ? 's' : ''} ${missing.map((t) => `"${t}"`).join(', ')} not found on the cluster (create ${missing.length > 1 ? 'them' : 'it'} first; the scorer does not create topics)`);
      const meta = await a.fetchTopicMetadata({ topics });
      const configs = await a.describeConfigs({ includeSynonyms: false, resources: topics.map((name) => ({ type: 2, name, configNames: ['max.message.bytes'] })) });
      const out = new Map<string, TopicInfo>();
      for (const t of meta.topics) {
        const entry = configs.resources.find((r) => r.resourceName === t.name)?.configEntries.find((c) => c.configName === 'max.message.bytes');
        out.set(t.name, { partitions: t.partitions.length, maxMessageBytes: Number(entry?.configValue ?? 1_048_588) });
      }
      return out;
    },
    async startConsuming(h) {
      const c = kafka.consumer({
        groupId: o.groupId,
        maxBytes: o.fetchMaxBytes,
        maxBytesPerPartition: Math.min(o.fetchMaxBytes, 1 << 20),
        // Return as soon as anything is there, wait at most 100 ms otherwise.
        maxWaitTimeInMs: 100,
        sessionTimeout: o.sessionTimeoutMs,
        rebalanceTimeout: 60_000,
        heartbeatInterval: 3_000,
        retry: { initialRetryTime: 300, maxRetryTime: 30_000, retries: 10 },
      });
      consumer = c;
      c.on(c.events.GROUP_JOIN, ({ payload }) => {
        generation++;
        held = new Set();
        h.assigned(Object.entries(payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions })));
      });
      // A batch of only transaction markers (or aborted records) never reaches eachBatch: kafkajs
      // moves past it itself. Its position still has to be committed, or lag reads 1 for ever.
      c.on(c.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.batchSize !== 0) return;
        void h.records([], new Map([[tpKey(payload.topic, payload.partition), BigInt(payload.lastOffset) + 1n]]), generation);
      });
      c.on(c.events.CRASH, ({ payload }) => {
        if (payload.restart) h.warning('kafkajs consumer crashed; it restarts itself', payload.error);
        else h.fatal(new Error(`kafkajs consumer crashed and cannot restart: ${payload.error.message}`));
      });
      await c.connect();
      await c.subscribe({ topics: o.topics, fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        // Every partition of a fetch in flight at once: that is what lets one inference batch serve many partitions.
        partitionsConsumedConcurrently: 64,
        eachBatch: (payload) => eachBatch(payload, h),
      });
      if (fetchingPaused) pauseAll();
    },
    pauseFetching() {
      fetchingPaused = true;
      pauseAll();
    },
    resumeFetching() {
      fetchingPaused = false;
      if (!consumer) return;
      consumer.resume(o.topics.map((topic) => ({ topic })));
      for (const k of held) {
        const i = k.lastIndexOf(':');
        consumer.pause([{ topic: k.slice(0, i), partitions: [Number(k.slice(i + 1))] }]);
      }
    },
    holdPartition(tp) {
      held.add(tpKey(tp.topic, tp.partition));
      consumer?.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
    },
    async rewind(tp, offset) {
      held.delete(tpKey(tp.topic, tp.partition));
      consumer?.seek({ topic: tp.topic, partition: tp.partition, offset: String(offset) });
      if (!fetchingPaused) consumer?.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
    },
    async send(messages) {
      if (messages.length > 0) await producer.sendBatch({ topicMessages: topicMessages(messages), acks: -1, compression });
    },
    async transaction(messages, offsets) {
      if (messages.length === 0 && offsets.length === 0) return;
      const tx = await producer.transaction();
      try {
        if (messages.length > 0) await tx.sendBatch({ topicMessages: topicMessages(messages), acks: -1, compression });
        // TxnOffsetCommit v0/v1 carry no group generation: kafkajs cannot fence a member the
        // group has evicted (docs/architecture.md). Waiting in eachBatch keeps that case rare.
        if (offsets.length > 0) await tx.sendOffsets({ consumerGroupId: o.groupId, topics: offsetsByTopic(offsets) });
        await tx.commit();
      } catch (err) {
        await tx.abort().catch(() => undefined);
        throw err;
      }
    },
    async renewProducer() {
      const old = producer;
      producer = makeProducer();
      await old.disconnect().catch(() => undefined);
      for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
        try {
          await producer.connect();
          // InitProducerId returns only once the coordinator has finished or aborted the old transaction.
          await registerTransactionalId(producer);
          return;
        } catch (err) {
          log.warn({ err: (err as Error).message, retryInMs: delay }, 'the transactional producer cannot register yet');
          await sleep(delay);
        }
      }
    },
    async commit(offsets) {
      if (!consumer || offsets.length === 0) return;
      await consumer.commitOffsets(offsets.map((t) => ({ topic: t.topic, partition: t.partition, offset: String(t.offset) })));
    },
    async committed(tps) {
      const a = await getAdmin();
      const topics = [...new Set(tps.map((t) => t.topic))];
      const out = new Map<string, bigint>();
      for (const entry of await a.fetchOffsets({ groupId: o.groupId, topics })) {
        for (const p of entry.partitions) out.set(tpKey(entry.topic, p.partition), BigInt(p.offset));
      }
      return out;
    },
    async stopConsuming() {
      // disconnect() stops fetching, waits for running eachBatch calls, then leaves the group.
      await consumer?.disconnect();
    },
    async closeProducer() {
      await producer.disconnect();
      await admin?.disconnect();
    },
  };
}

function toRecord(topic: string, partition: number, m: KafkaMessage): SourceRecord {
  return { topic, partition, offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers: m.headers ?? {} };
}

/** Waits for `done`, heartbeating meanwhile; a refused heartbeat (a rebalance) stops the heartbeats, not the wait. */
async function waitHeartbeating<T>(done: Promise<T>, heartbeat: () => Promise<void>, log: Logger): Promise<T> {
  let settled = false;
  const finished = done.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  let heartbeating = true;
  while (!settled) {
    await Promise.race([finished, sleep(HEARTBEAT_EVERY_MS)]);
    if (settled || !heartbeating) continue;
    try {
      await heartbeat();
    } catch (err) {
      heartbeating = false;
      log.info({ err: (err as Error).message }, 'heartbeat refused while a batch is in flight (a rebalance); finishing the batch first');
    }
  }
  return done;
}
