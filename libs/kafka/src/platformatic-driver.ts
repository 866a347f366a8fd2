import {
  Admin,
  ConfigResourceTypes,
  Consumer,
  FetchIsolationLevels,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  consumerFetchesChannel,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import type { SourceRecord } from '@sentiment-stream/events';
import { backoffDelay } from '@sentiment-stream/runtime';
import { baseOptions, stableOffsetsReader } from './platformatic-admin.js';
import { isDecodeError } from './undecodable.js';
import { dropAbortedRecords, type FetchedPartition } from './aborted.js';
import { describeKafkaError } from './errors.js';
import { tpKey, type Assignment, type Driver, type DriverHandlers, type PlacedMessage, type TopicInfo, type TopicPartition } from './driver.js';
import type { DriverOptions } from './kafkajs-driver.js';
import type { KafkaSettings } from './settings.js';

export interface PlatformaticDriverOptions extends DriverOptions {
  groupInstanceId: string | undefined;
  /** How long the group waits for members to rejoin; the drain before a rejoin stays well inside it. */
  rebalanceTimeoutMs: number;
  /** Records the stream buffers ahead of the transport (a Node stream's highWaterMark). */
  highWaterMark: number;
}

/** setTimeout's longest delay (about 24.8 days): a retry loop parked until the consumer closes (close cancels it). */
const PARKED_MS = 2 ** 31 - 1;

type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;
type ConsumerContext = { groupId: string; memberId: string; generationId: number; coordinatorId: number };

/**
 * @platformatic/kafka behind the transport. Its consumer is a stream that keeps fetching while
 * earlier records are scored (backpressure: the transport pauses it), heartbeats on its own
 * connection, decodes every codec, and supports static membership (GROUP_INSTANCE_ID) and
 * transactional offsets fenced by the group generation (TxnOffsetCommit with generation and member
 * id, KIP-447).
 *
 * One stream per group generation. Before the member rejoins (the `protocolsMetadata` hook runs
 * ahead of every JoinGroup) the transport drains what is in flight, so offsets are committed while
 * the partitions are still this member's; after the join the old stream is closed and a new one
 * starts from the committed offsets. A stream that lived across the join could deliver records
 * fetched under the old assignment, or move a position past records that were dropped.
 */
export function createPlatformaticDriver(settings: KafkaSettings, o: PlatformaticDriverOptions): Driver {
  const log = o.logger;
  const base = baseOptions(settings);
  const makeProducer = () =>
    new Producer<Buffer, Buffer, string, Buffer>({
      ...base,
      idempotent: true,
      // InitProducerId must say "no producer yet" (-1/-1): @platformatic/kafka 2.12.1 sends 0/0 by
      // default, which the coordinator reads as producer 0 claiming the transactional id, and answers
      // PRODUCER_FENCED for ever once the id belongs to another producer id: a restarted or renewed
      // transactional producer could never register (the kill and cluster scenarios caught it).
      producerId: -1n,
      producerEpoch: -1,
      acks: ProduceAcks.ALL,
      compression: o.compression,
      serializers: { headerKey: (k?: string) => Buffer.from(k ?? ''), headerValue: (v?: Buffer) => v ?? Buffer.alloc(0) },
      // InitProducerId sends the client's request timeout as the transaction timeout.
      ...(o.exactlyOnce ? { transactionalId: o.transactionalId, timeout: o.transactionTimeoutMs } : {}),
    });
  let producer = makeProducer();
  let admin: Admin | undefined;
  let consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined;
  let stream: Stream | undefined;
  let handlers: DriverHandlers | undefined;
  let paused = false;
  let closing = false;
  /** A consume() call in progress: a join during it is the one it waits for, and it brings its own stream. */
  let opening: Promise<void> | undefined;
  let reopenAttempt = 0;
  /** The partitions of the last join. */
  let assigned: TopicPartition[] = [];
  /** This stream's fetches have reported an undecodable batch already. */
  let decodeReported = false;

  // Every fetch response of this consumer passes here before its stream reads it (the tracing
  // channel's asyncStart runs ahead of the fetch callback): aborted transactions are dropped whole.
  const abortedFilter = {
    asyncStart(ctx: { client?: unknown; result?: unknown }) {
      if (!consumer || ctx.client !== consumer) return;
      const response = ctx.result as { responses?: { partitions: FetchedPartition[] }[] } | undefined;
      for (const t of response?.responses ?? []) for (const p of t.partitions) dropAbortedRecords(p);
    },
  };

  const getAdmin = () => (admin ??= new Admin({ ...base, clientId: `${settings.KAFKA_CLIENT_ID}-admin` }));
  const stableOffsets = stableOffsetsReader(settings);

  const contextNow = (): ConsumerContext => ({
    groupId: consumer!.groupId,
    memberId: consumer!.memberId ?? '',
    generationId: consumer!.generationId,
    coordinatorId: consumer!.coordinatorId ?? -1,
  });

  /**
   * The consumer context a TxnOffsetCommit carries: the generation and member id the records were
   * fetched under (the fence), and the group coordinator as the consumer knows it now, read on
   * every attempt. @platformatic/kafka 2.12.1 sends the commit to the coordinator named in the
   * context and retries with that same one: after the coordinator moved (its node was killed in the
   * 3-node fault scenario), every retry went to the dead node or to one answering NOT_COORDINATOR,
   * until the transaction timed out, again and again: an exactly-once scorer stood still for 4-6 min.
   */
  const fencedBy = (fetched: ConsumerContext): ConsumerContext => ({
    groupId: fetched.groupId,
    memberId: fetched.memberId,
    generationId: fetched.generationId,
    get coordinatorId() {
      return consumer?.coordinatorId ?? fetched.coordinatorId;
    },
  });

  /** Messages pushed by one fetch response arrive synchronously: gather them into one chunk. */
  const attach = (s: Stream) => {
    let chunk: SourceRecord[] = [];
    let context: ConsumerContext | undefined;
    const last = new Map<string, bigint>();
    s.on('data', (m: Message<Buffer, Buffer, Buffer, Buffer>) => {
      if (s !== stream) return;
      if (chunk.length === 0) {
        context = (m.metadata as { consumer?: ConsumerContext }).consumer ?? contextNow();
        queueMicrotask(() => {
          const records = chunk;
          chunk = [];
          if (s === stream && records.length > 0) void handlers!.records(records, new Map(), context);
        });
      }
      chunk.push(toRecord(m));
      last.set(tpKey(m.topic, m.partition), m.offset);
    });
    // After each fetch (its records are pushed synchronously, its chunk handed over in a
    // microtask): where the stream's next fetch offset is past the last record it delivered, only
    // transaction markers or aborted records lie between. Commit that position, or an idle
    // transactional input reads lag 1 per partition for ever.
    s.on('fetch', () => {
      setImmediate(() => {
        if (s !== stream || paused || s.readableLength > 0) return;
        const positions = new Map<string, bigint>();
        for (const [k, next] of s.offsetsToFetch) {
          const seen = last.get(k);
          if (seen !== undefined && next > seen + 1n) {
            positions.set(k, next);
            last.set(k, next - 1n);
          }
        }
        if (positions.size > 0) void handlers!.records([], positions, contextNow());
      });
    });
    // The stream's first positions are the committed offsets: markers right after them count too.
    s.once('offsets', () => {
      for (const [k, next] of s.offsetsToFetch) if (!last.has(k)) last.set(k, next - 1n);
      log.info({ positions: Object.fromEntries([...s.offsetsToFetch].map(([k, v]) => [k, String(v)])) }, 'a consumer stream starts');
    });
    s.on('error', (err: Error) => {
      if (s !== stream || closing) return;
      // Nothing more from this stream. The transport finishes what it handed out, then rewinds (a
      // new stream from the committed offsets). Again and again (a broker that keeps failing): with backoff.
      stream = undefined;
      reopenAttempt++;
      if (reopenAttempt === 1) handlers!.streamFailed(err);
      else setTimeout(() => handlers!.streamFailed(err), backoffDelay(reopenAttempt, { initialMs: 500, maxMs: 30_000 })).unref();
    });
  };

  const open = (): Promise<void> => {
    opening ??= openStream().finally(() => (opening = undefined));
    return opening;
  };

  const openStream = async () => {
    if (closing || !consumer) return;
    const s = (await consumer.consume({
      topics: o.topics,
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
      highWaterMark: o.highWaterMark,
      maxWaitTime: 100,
      maxBytes: o.fetchMaxBytes,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    })) as Stream;
    if (closing) {
      await s.close().catch(() => undefined);
      return;
    }
    stream = s;
    decodeReported = false;
    attach(s);
    if (paused) s.pause();
    s.once('data', () => (reopenAttempt = 0));
  };

  const closeStream = async () => {
    const s = stream;
    stream = undefined;
    await s?.close().catch(() => undefined);
  };

  return {
    name: 'platformatic',
    needsDrainToRewind: true,
    async connect() {
      // Few retries here: the transport's own retry loop reports each failure (a wrong password,
      // an unknown CA) as not ready, and keeps trying; the clients' retries are for later. No
      // topics: a missing one is the transport's check (describeTopics), fatal and named, not a retry.
      await producer.metadata({ topics: [], forceUpdate: true, retries: 2 });
      if (!o.exactlyOnce) return;
      try {
        await registerTransactionalId(producer);
      } catch (err) {
        // A producer whose registration failed keeps a half-begun transaction: the next try gets a new one.
        const old = producer;
        producer = makeProducer();
        await old.close(true).catch(() => undefined);
        throw err;
      }
    },
    async describeTopics(topics) {
      const a = getAdmin();
      const existing = new Set(await a.listTopics({ includeInternals: false }));
      const present = topics.filter((t) => existing.has(t));
      if (present.length === 0) return new Map();
      const meta = await a.metadata({ topics: present });
      const configs = await a.describeConfigs({
        resources: present.map((name) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: name, configurationKeys: ['max.message.bytes'] })),
      });
      const out = new Map<string, TopicInfo>();
      for (const t of present) {
        const value = configs.find((c) => c.resourceName === t)?.configs.find((c) => c.name === 'max.message.bytes')?.value;
        out.set(t, { partitions: meta.topics.get(t)!.partitionsCount, maxMessageBytes: Number(value ?? 1_048_588) });
      }
      return out;
    },
    async startConsuming(h) {
      handlers = h;
      consumerFetchesChannel.subscribe(abortedFilter as Parameters<typeof consumerFetchesChannel.subscribe>[0]);
      consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
        ...base,
        // A fetch that cannot be decoded is retried like any failure, for ever and silently. The
        // first such retry of a stream tells the transport (which skips the batch and starts a new
        // stream); the abandoned retry loop is then parked until the consumer closes.
        retryDelay: (client, operation, attempt, retries, error) => {
          if (operation === 'fetch' && isDecodeError(error)) {
            if (decodeReported) return PARKED_MS;
            decodeReported = true;
            setImmediate(() => h.undecodable(error));
          }
          return typeof base.retryDelay === 'function' ? base.retryDelay(client, operation, attempt, retries, error) : 1_000;
        },
        groupId: o.groupId,
        ...(o.groupInstanceId ? { groupInstanceId: o.groupInstanceId } : {}),
        autocommit: false,
        sessionTimeout: o.sessionTimeoutMs,
        rebalanceTimeout: o.rebalanceTimeoutMs,
        heartbeatInterval: 3_000,
        maxWaitTime: 100,
        maxBytes: o.fetchMaxBytes,
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        highWaterMark: o.highWaterMark,
        // Runs before every JoinGroup: finish and commit what is in flight while the partitions are ours.
        protocolsMetadata: async () => {
          await h.rejoining();
          return Buffer.alloc(0);
        },
      });
      consumer.on('consumer:group:join', (payload: { assignments: Assignment[] | null }) => {
        const assignment = (payload.assignments ?? []).map((a) => ({ topic: a.topic, partitions: [...a.partitions] }));
        assigned = assignment.flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })));
        if (opening) {
          h.assigned(assignment);
          return;
        }
        // A new generation: the old stream goes (its in-flight fetches with it), a new one starts from the committed offsets.
        void closeStream();
        h.assigned(assignment);
        void open().catch((err: unknown) => h.warning('could not start consuming after the rejoin', err));
      });
      consumer.on('consumer:heartbeat:error', (payload: { error?: Error }) => h.warning('heartbeat failed', payload.error));
      consumer.on('error', (err: Error) => h.warning('consumer error', err));
      await open();
    },
    pauseFetching() {
      paused = true;
      stream?.pause();
    },
    resumeFetching() {
      paused = false;
      stream?.resume();
    },
    holdPartition() {
      // The stream cannot pause one partition: the transport drops its records until the rewind.
    },
    async rewind() {
      // The offset is committed already: a new stream reads every partition from its committed
      // offset. The new one is opened before the old one closes: while one tracks the topics, the
      // consumer keeps its membership (no rejoin, no rebalance).
      // The stream reads the committed offsets without require_stable: exactly-once, first wait
      // until no transactional commit is pending (the commit markers lag the transaction's end), or
      // it starts before the last transaction's offsets and scores those records again.
      if (o.exactlyOnce && assigned.length > 0) await stableOffsets.read(o.groupId, assigned);
      const old = stream;
      stream = undefined;
      await open();
      await old?.close().catch(() => undefined);
    },
    async send(messages) {
      if (messages.length > 0) await producer.send({ messages: messages.map(toMessage), acks: ProduceAcks.ALL });
    },
    async transaction(chunks, offsets, context) {
      if (chunks.every((c) => c.length === 0) && offsets.length === 0) return;
      const tx = await producer.beginTransaction();
      // From here on an error leaves a transaction behind: abort it (or drop it locally), so the
      // producer can begin the next one.
      try {
        for (const messages of chunks) if (messages.length > 0) await tx.send({ messages: messages.map(toMessage), acks: ProduceAcks.ALL });
        if (offsets.length > 0) {
          await tx.addConsumer(consumer!);
          // TxnOffsetCommit with the generation and member id the records were fetched under: a
          // member the group has moved on from cannot commit them (ILLEGAL_GENERATION -> abort).
          for (const t of offsets) {
            await tx.addOffset({ topic: t.topic, partition: t.partition, offset: t.offset - 1n, metadata: { consumer: fencedBy((context as ConsumerContext | undefined) ?? contextNow()) } } as unknown as Message<Buffer, Buffer, Buffer, Buffer>);
          }
        }
        await tx.commit();
      } catch (err) {
        if (!tx.completed) await tx.abort().catch(() => tx.cancel().catch(() => undefined));
        throw err;
      }
    },
    async renewProducer() {
      for (let attempt = 1; !closing; attempt++) {
        // A new producer each attempt: one whose registration failed can keep a half-begun
        // transaction ("There is already an active transaction") and never register again.
        const old = producer;
        producer = makeProducer();
        // Not waited on for long: a producer given up as stalled may not close either.
        await Promise.race([old.close(true).catch(() => undefined), new Promise((r) => setTimeout(r, 5_000).unref())]);
        try {
          // InitProducerId returns only once the coordinator has finished or aborted the old transaction.
          if (o.exactlyOnce) await registerTransactionalId(producer);
          return;
        } catch (err) {
          const delay = backoffDelay(attempt, { initialMs: 500, maxMs: 10_000 });
          log.warn({ err: describeKafkaError(err), retryInMs: delay }, 'the transactional producer cannot register yet');
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }
    },
    async commit(offsets) {
      if (!consumer || offsets.length === 0) return;
      const meta = await consumer.metadata({ topics: [...new Set(offsets.map((t) => t.topic))] });
      await consumer.commit({
        offsets: offsets.map((t) => ({ topic: t.topic, partition: t.partition, offset: t.offset, leaderEpoch: meta.topics.get(t.topic)?.partitions[t.partition]?.leaderEpoch ?? -1 })),
      });
    },
    committed: (tps) => stableOffsets.read(o.groupId, tps),
    async stopConsuming() {
      closing = true;
      await closeStream();
      await consumer?.close(true);
      consumerFetchesChannel.unsubscribe(abortedFilter as Parameters<typeof consumerFetchesChannel.unsubscribe>[0]);
    },
    async closeProducer() {
      closing = true;
      await producer.close(true).catch(() => undefined);
      await admin?.close().catch(() => undefined);
      await stableOffsets.close();
    },
  };
}

/** Begins a transaction (which registers the transactional id, fencing a predecessor) and drops it locally. */
async function registerTransactionalId(p: Producer<Buffer, Buffer, string, Buffer>): Promise<void> {
  const tx = await p.beginTransaction();
  await tx.cancel();
}

function toMessage(m: PlacedMessage) {
  const headers = new Map<string, Buffer>();
  for (const name in m.headers) {
    // One value per header name: @platformatic/kafka produces headers from a Map (the first of repeated values is kept).
    const value = m.headers[name]!;
    const v = Array.isArray(value) ? value[0] : value;
    if (v !== undefined) headers.set(name, typeof v === 'string' ? Buffer.from(v) : v);
  }
  return { topic: m.topic, partition: m.partition, key: m.key ?? undefined, value: m.value ?? undefined, headers };
}

function toRecord(m: Message<Buffer, Buffer, Buffer, Buffer>): SourceRecord {
  const headers: SourceRecord['headers'] = {};
  const entries = (m as unknown as { headerEntries?: [Buffer, Buffer][] }).headerEntries ?? [...m.headers.entries()];
  for (const [k, v] of entries) {
    const name = k.toString();
    const prev = headers[name];
    headers[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return {
    topic: m.topic,
    partition: m.partition,
    offset: String(m.offset),
    timestamp: String(m.timestamp),
    key: m.key ?? null,
    value: m.value ?? null,
    headers,
  };
}
