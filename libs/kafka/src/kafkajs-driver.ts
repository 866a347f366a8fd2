import type { SourceRecord } from '@sentiment-stream/events';
import { sleep } from '@sentiment-stream/runtime';
import { CompressionTypes, type Admin, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Message, type Producer } from 'kafkajs';
import type { Logger } from './client.js';
import { registerKafkajsCodecs } from './codecs.js';
import { isDecodeError } from './undecodable.js';
import { describeKafkaError, kafkaErrorsIn } from './errors.js';
import { stableOffsetsReader } from './platformatic-admin.js';
import type { KafkaSettings } from './settings.js';
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
  /** kafkajs only: where the client's log reports a fetch it cannot decode (client.ts's hook). */
  decodeErrors?: (listener: (err: Error) => void) => void;
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
export function createKafkajsDriver(kafka: Kafka, settings: KafkaSettings, o: DriverOptions): Driver {
  registerKafkajsCodecs();
  const log = o.logger;
  const makeProducer = () =>
    kafka.producer({
      // Every message carries the partition the transport chose (Java's murmur2): pass it through.
      createPartitioner: () => ({ message }) => message.partition ?? 0,
      // Idempotent with one request in flight: broker retries can neither duplicate nor reorder.
      idempotent: true,
      maxInFlightRequests: 1,
      // A few quick retries (a coordinator still completing the previous transaction answers
      // CONCURRENT_TRANSACTIONS); longer trouble reaches the transport, which retries whole sends and
      // transactions itself. kafkajs also retries a refusal (INVALID_RECORD) whose retry then fails
      // with OUT_OF_ORDER_SEQUENCE_NUMBER: errors.ts reads that as the refusal it is.
      retry: { initialRetryTime: 200, maxRetryTime: 2_000, retries: 5 },
      ...(o.exactlyOnce ? { transactionalId: o.transactionalId, transactionTimeout: o.transactionTimeoutMs } : {}),
    });
  let producer: Producer = makeProducer();
  const stableOffsets = stableOffsetsReader(settings);
  /**
   * Set by a commit the moved group coordinator refused, for the generation it happened in. Until
   * kafkajs rejoins, every commit is refused at once and every batch that ends throws: kafkajs
   * rejoins only once all its fetchers have stopped, and each waits for the batches it handed out.
   * With one throw, and each later commit retried by kafkajs against the old coordinator (~11 s),
   * the rejoin came 39 s after the first refusal in a 3-node run.
   */
  let mustRejoin: { error: Error; generation: number; thrown: boolean } | undefined;
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
    // A commit refused by a moved coordinator (see commit): kafkajs rejoins when a batch throws its
    // NOT_COORDINATOR error, and reads again from the committed offsets. Waiting for a heartbeat to
    // do it is not enough: once the input is drained no batch or failed heartbeat came, and a CI run
    // sat at lag 1,450 for 5 min.
    if (mustRejoin?.generation === generation) {
      if (!mustRejoin.thrown) log.info({ topic: batch.topic, partition: batch.partition }, 'a commit was refused by a moved group coordinator: the batches that end throw until kafkajs rejoins');
      mustRejoin.thrown = true;
      throw mustRejoin.error;
    }
    const last = done.get(k);
    // Only what is done: kafkajs fetches the partition again from the first record not resolved.
    if (last !== undefined) payload.resolveOffset(String(last));
  };

  /**
   * kafkajs throws from pause/resume/seek while its consumer restarts after a crash ("Consumer group
   * was not initialized"); the restarted consumer starts unpaused from the committed offsets, which
   * is what every caller here wants then.
   */
  const safely = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      log.info({ err: (err as Error).message }, `kafkajs consumer cannot ${what} now (restarting); it resumes from the committed offsets`);
    }
  };

  const pauseAll = () => {
    if (!consumer) return;
    safely('pause', () => consumer!.pause(o.topics.map((topic) => ({ topic }))));
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
      const present = topics.filter((t) => existing.has(t));
      if (present.length === 0) return new Map();
      const meta = await a.fetchTopicMetadata({ topics: present });
      const configs = await a.describeConfigs({ includeSynonyms: false, resources: present.map((name) => ({ type: 2, name, configNames: ['max.message.bytes'] })) });
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
        // A crash (after these retries) restarts the consumer; a short cycle also brings an
        // undecodable fetch to the transport within about 15 s.
        retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 5 },
      });
      consumer = c;
      o.decodeErrors?.((err) => h.undecodable(err));
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
        // A fetch that cannot be decoded fails the same way on every retry and restart: the transport skips the batch.
        if (isDecodeError(payload.error)) h.undecodable(payload.error);
        else if (payload.restart) h.warning('kafkajs consumer crashed; it restarts itself', payload.error);
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
      const c = consumer;
      safely('resume', () => {
        c.resume(o.topics.map((topic) => ({ topic })));
        for (const k of held) {
          const i = k.lastIndexOf(':');
          c.pause([{ topic: k.slice(0, i), partitions: [Number(k.slice(i + 1))] }]);
        }
      });
    },
    holdPartition(tp) {
      held.add(tpKey(tp.topic, tp.partition));
      safely('pause a partition', () => consumer?.pause([{ topic: tp.topic, partitions: [tp.partition] }]));
    },
    async rewind(tp, offset) {
      // A negative offset: nothing to seek (the consumer reads on from its committed offsets).
      if (offset < 0n) return;
      held.delete(tpKey(tp.topic, tp.partition));
      try {
        consumer?.seek({ topic: tp.topic, partition: tp.partition, offset: String(offset) });
      } catch (err) {
        // A consumer restarting after a crash cannot seek; it resumes from the committed offset, which is this one.
        log.info({ err: (err as Error).message, topic: tp.topic, partition: tp.partition }, 'seek refused; the consumer resumes from the committed offset');
      }
      if (!fetchingPaused) safely('resume a partition', () => consumer?.resume([{ topic: tp.topic, partitions: [tp.partition] }]));
    },
    async send(messages) {
      if (messages.length > 0) await producer.sendBatch({ topicMessages: topicMessages(messages), acks: -1, compression });
    },
    async transaction(chunks, offsets) {
      if (chunks.every((c) => c.length === 0) && offsets.length === 0) return;
      const tx = await producer.transaction();
      try {
        for (const messages of chunks) if (messages.length > 0) await tx.sendBatch({ topicMessages: topicMessages(messages), acks: -1, compression });
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
          if (o.exactlyOnce) await registerTransactionalId(producer);
          return;
        } catch (err) {
          log.warn({ err: describeKafkaError(err), retryInMs: delay }, 'the transactional producer cannot register yet');
          await sleep(delay);
        }
      }
    },
    async commit(offsets) {
      if (!consumer || offsets.length === 0) return;
      if (mustRejoin?.generation === generation) throw rejoinFirst(mustRejoin.error);
      try {
        await consumer.commitOffsets(offsets.map((t) => ({ topic: t.topic, partition: t.partition, offset: String(t.offset) })));
      } catch (err) {
        // kafkajs 2.2.4 keeps the group coordinator it found at its last join: once the coordinator
        // moved, every commit and every retry of it went to the old node (NOT_COORDINATOR) until
        // the member rejoined. In the 3-node scenario each batch then spent about 55 s in retries,
        // three in a row (2 min of lag). Not retried: the batch waiting on this commit throws
        // kafkajs's own error, kafkajs rejoins, and the records are delivered again.
        const refused = kafkaErrorsIn(err).find((e) => e.code === 'NOT_COORDINATOR_FOR_GROUP');
        if (refused) {
          mustRejoin = { error: refused.error as Error, generation, thrown: false };
          throw rejoinFirst(err);
        }
        throw err;
      }
    },
    // kafkajs's OffsetFetch cannot ask for stable offsets: @platformatic/kafka's admin can.
    committed: (tps) => stableOffsets.read(o.groupId, tps),
    async stopConsuming() {
      // disconnect() stops fetching, waits for running eachBatch calls, then leaves the group. After
      // the consumer crashed and restarted itself (a broker killed in the 3-node scenario) kafkajs
      // 2.2.4's disconnect once never returned, and SIGTERM ended in the 25 s shutdown limit, exit
      // 1. Offsets are committed by then: give it 10 s, then leave it to the session timeout.
      if (!consumer) return;
      const left = await Promise.race([consumer.disconnect().then(() => true), sleep(10_000).then(() => false)]);
      if (!left) log.warn({ waitedMs: 10_000 }, 'the kafkajs consumer did not leave the group in time; its session expires instead');
    },
    async closeProducer() {
      await producer.disconnect();
      await admin?.disconnect();
      await stableOffsets.close();
    },
  };
}

/** A commit this member can make only after it rejoins: classified stale, so not retried (errors.ts). */
function rejoinFirst(err: unknown): Error {
  return Object.assign(new Error(`${(err as Error).message}: kafkajs finds the new coordinator when it rejoins`), { type: 'MEMBER_MUST_REJOIN', cause: err });
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
    // The batch's end does not wait for a heartbeat under way: one sent to a node just killed
    // answers only at the request timeout (30 s), and a refused commit's rejoin waits for that end.
    const beat = heartbeat().then(
      () => undefined,
      (err: unknown) => {
        heartbeating = false;
        log.info({ err: (err as Error).message }, 'heartbeat refused while a batch is in flight (a rebalance); finishing the batch first');
      },
    );
    await Promise.race([beat, finished]);
  }
  return done;
}

