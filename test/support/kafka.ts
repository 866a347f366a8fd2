// Helpers for integration tests that talk to the broker found by test/setup/kafka.ts.
import { randomBytes } from 'node:crypto';
import {
  Kafka,
  Partitioners,
  logLevel,
  type IHeaders,
  type KafkaConfig,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { registerKafkajsCodecs } from '@sentiment-stream/kafka';
import { inject } from 'vitest';

// The suites read what the scorer writes, compressed with PRODUCER_COMPRESSION (lz4 by default):
// the test process's kafkajs gets the same snappy, lz4 and zstd decoders the scorer registers.
registerKafkajsCodecs();
import { eventually } from './eventually.js';

/** host:port list of the broker the suite runs against. */
export function kafkaBrokers(): string[] {
  return inject('kafkaBrokers');
}

const LOG_LEVELS: Record<string, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

/**
 * A kafkajs client for the suite's broker. kafkajs logs retriable errors (coordinator loading,
 * concurrent transactions) at ERROR level, so it is silent by default: real failures surface as
 * rejected promises. KAFKAJS_LOG_LEVEL=error|warn|info|debug shows its log.
 */
export function createKafka(clientId = 'integration-test', overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId,
    brokers: kafkaBrokers(),
    logLevel: LOG_LEVELS[(process.env.KAFKAJS_LOG_LEVEL ?? 'nothing').toLowerCase()] ?? logLevel.NOTHING,
    connectionTimeout: 5000,
    ...overrides,
  });
}

/** A producer with the default (Java-compatible murmur2) partitioner and no v2 partitioner warning. */
export function createProducer(kafka: Kafka, config: ProducerConfig = {}): Producer {
  return kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...config });
}

/** Differs on every run (and every process), so a rerun against the same broker never sees old data. */
const RUN_ID = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
let sequence = 0;

/** A topic name unique to this test run: `<prefix>.<run>.<n>` (legal Kafka topic characters only). */
export function uniqueTopic(prefix: string): string {
  sequence += 1;
  const safe = prefix.replace(/[^a-zA-Z0-9._-]/g, '-');
  return `${safe}.${RUN_ID}.${sequence}`;
}

/** A consumer group id unique to this test run. */
export function uniqueGroup(prefix: string): string {
  return uniqueTopic(`group.${prefix}`);
}

/** Fresh input and output topics (`partitions` each), a one-partition dead-letter topic and a group for one scorer under test. */
export async function createScorerTopics(kafka: Kafka, prefix: string, partitions: number) {
  const t = { input: uniqueTopic(`${prefix}.in`), output: uniqueTopic(`${prefix}.out`), dlq: uniqueTopic(`${prefix}.dlq`), group: uniqueGroup(prefix) };
  await createTopic(kafka, t.input, partitions);
  await createTopic(kafka, t.output, partitions);
  await createTopic(kafka, t.dlq, 1);
  return t;
}

/**
 * Create `topic` with `partitions` partitions, replicated on min(3, brokers) nodes (1 on a single
 * broker; 3 on deploy/kafka's cluster, whose min.insync.replicas is 2), and wait until every
 * partition has a leader. A fixed replication of 1 made the cluster's failover scenario kill the
 * only replica of a partition, which then came back through an unclean election.
 */
export async function createTopic(
  kafka: Kafka,
  topic: string,
  partitions: number,
  configEntries: Record<string, string> = {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const replicationFactor = Math.min(3, (await admin.describeCluster()).brokers.length);
    let created: boolean;
    try {
      created = await admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: partitions,
            replicationFactor,
            configEntries: Object.entries(configEntries).map(([name, value]) => ({ name, value })),
          },
        ],
        waitForLeaders: true,
      });
    } catch (err) {
      // On a loaded machine the broker can answer waitForLeaders' metadata request before the new
      // topic is in its metadata cache; kafkajs retries LEADER_NOT_AVAILABLE only. The topic was
      // created, so wait for its leaders below instead of failing the suite.
      if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
      created = true;
    }
    if (!created) throw new Error(`topic ${topic} already exists (topic names should come from uniqueTopic)`);
    await eventually(async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const found = topics[0]?.partitions.filter((p) => p.leader >= 0).length ?? 0;
      if (found !== partitions) throw new Error(`topic ${topic}: ${found} of ${partitions} partitions have a leader`);
    });
  } finally {
    await admin.disconnect();
  }
}

export interface ReadMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: IHeaders;
  timestamp: string;
}

export interface ReadAllOptions {
  /** Stop once this many messages arrived (then wait `settleMs` more to catch duplicates). */
  expected: number;
  /** Give up after this long and return what arrived; the caller's assertions show the shortfall. Default 60 s. */
  timeoutMs?: number;
  /** After `expected` messages, keep listening this long so extra (duplicate) messages show up. Default 500 ms. */
  settleMs?: number;
  /** Consumer group; default a unique one. Pass your own to inspect its committed offsets afterwards. */
  groupId?: string;
  /** false (default): read_committed, aborted transactional messages are skipped; true: read_uncommitted. */
  readUncommitted?: boolean;
}

/**
 * Read `topic` from the beginning with a consumer group until `expected` messages (plus a settle
 * window) or the timeout. Messages come back in arrival order, which within a partition is offset
 * order. The consumer commits its offsets and leaves the group before this returns.
 */
export async function readAll(kafka: Kafka, topic: string, options: ReadAllOptions): Promise<ReadMessage[]> {
  const { expected, timeoutMs = 60_000, settleMs = 500, readUncommitted = false } = options;
  const groupId = options.groupId ?? uniqueGroup(`read.${topic}`);
  const consumer = kafka.consumer({ groupId, readUncommitted, maxWaitTimeInMs: 250 });
  const messages: ReadMessage[] = [];

  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const timeout = setTimeout(finish, timeoutMs);
  let settle: NodeJS.Timeout | undefined;

  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic: t, partition, message }) => {
        messages.push({
          topic: t,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          headers: message.headers ?? {},
          timestamp: message.timestamp,
        });
        if (messages.length >= expected && settle === undefined) settle = setTimeout(finish, settleMs);
      },
    });
    await done;
  } finally {
    clearTimeout(timeout);
    if (settle !== undefined) clearTimeout(settle);
    await consumer.disconnect();
  }
  return messages;
}

/** Committed offsets of `groupId` on `topic`, by partition (what a restarted consumer would resume from). */
export async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((entry?.partitions ?? []).map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

/** High watermark (next offset to be written) of each partition of `topic`. */
export async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}
