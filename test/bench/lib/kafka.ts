// Broker helpers for the benchmark (not test/support/kafka.ts: that one takes its brokers from vitest).
import { registerKafkajsCodecs } from '@sentiment-stream/kafka';
import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';

registerKafkajsCodecs();

export function createKafka(brokers: string[], clientId = 'bench'): Kafka {
  // kafkajs logs retriable errors at ERROR; the bench surfaces real failures as rejections.
  const level = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO }[process.env.KAFKAJS_LOG_LEVEL ?? 'nothing'];
  return new Kafka({ clientId, brokers, logLevel: level ?? logLevel.NOTHING, connectionTimeout: 5_000 });
}

export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates topics with `partitions` partitions. Output topics use LogAppendTime: each output's
 * timestamp is when the broker appended it, which is what the throughput window is measured on.
 */
export async function createTopics(admin: Admin, topics: string[], partitions: number, logAppendTime = false): Promise<void> {
  const configEntries = logAppendTime ? [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] : [];
  // Not kafkajs's waitForLeaders: on a loaded broker its metadata poll can throw
  // UNKNOWN_TOPIC_OR_PARTITION from a timer, out of reach of this await. Poll here instead.
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1, configEntries })),
    waitForLeaders: false,
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      if (meta.length === topics.length && meta.every((t) => t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders 60 s after creation`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Records on the topic now (sum of high watermarks; topics here start at offset 0). */
export async function countRecords(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
}

export interface Message {
  key: string;
  value: string;
  timestamp?: string;
}

/** Writes every message, `chunk` per request and up to `inFlight` requests at once; reports progress. */
export async function produceAll(
  producer: Producer,
  topic: string,
  count: number,
  make: (i: number) => Message,
  onProgress: (done: number) => void,
  chunk = 2_000,
  inFlight = 4,
): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < count) {
      const start = next;
      const end = Math.min(count, start + chunk);
      next = end;
      const messages = [];
      for (let i = start; i < end; i++) messages.push(make(i));
      await producer.send({ topic, messages, acks: 1 });
      done += end - start;
      onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

export interface ReadRecord {
  /** Broker append time (LogAppendTime topics) in ms. */
  ts: number;
  value: Buffer | null;
}

/**
 * Reads the first `expected` records of `topic` from the beginning (a throwaway group), keeping
 * the timestamp and, when `keepValues`, the value. Gives up after `timeoutMs` with what it has.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  expected: number,
  keepValues: boolean,
  onProgress: (done: number) => void,
  timeoutMs = 300_000,
): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  if (expected === 0) return out;
  const consumer = kafka.consumer({
    groupId: `bench-read-${topic}-${Date.now()}`,
    maxBytes: 16 << 20,
    maxBytesPerPartition: 4 << 20,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const timer = setTimeout(finish, timeoutMs);
    let lastProgress = 0;
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 6,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.push({ ts: Number(m.timestamp), value: keepValues ? m.value : null });
        const now = Date.now();
        if (now - lastProgress > 1_000) {
          lastProgress = now;
          onProgress(out.length);
        }
        if (out.length >= expected) finish();
      },
    });
    await done;
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return out;
}
