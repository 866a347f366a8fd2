// Read topics to their end offsets, so a count never rests on timing ("nothing new for 3 s").
//   endOffsets: each partition's start (log start offset) and end: the high watermark for
//     read_uncommitted, the last stable offset for read_committed (ListOffsets with that isolation
//     level, through @platformatic/kafka's admin; the LSO is where a read_committed reader stops
//     while a transaction is open, and equals the high watermark once none is).
//   readToEnd: a kafkajs consumer (a fresh group, from the beginning) that hands every record below
//     the end to a callback and returns once it has been past the end of every partition; it
//     rejects, naming the partitions behind, if that does not happen in time.
// The ends are taken once, when reading begins: records written later are not read (call it when
// the writers are done, or compare the ends taken before and after).
import { Admin, ListOffsetTimestamps } from '@platformatic/kafka';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { describeProducers } from './java-clients.js';

export type Isolation = 'read_committed' | 'read_uncommitted';

export interface PartitionEnd {
  topic: string;
  partition: number;
  /** The log start offset: the first offset still readable. */
  start: bigint;
  /** The offset a reader with this isolation level stops at (exclusive). */
  end: bigint;
}

/** Every partition of `topics` with its start and its end for `isolation` (default read_committed). */
export async function endOffsets(brokers: string[], topics: string[], isolation: Isolation = 'read_committed'): Promise<PartitionEnd[]> {
  const admin = new Admin({ clientId: 'end-offsets', bootstrapBrokers: brokers, retries: 5, retryDelay: 200 });
  try {
    const meta = await admin.metadata({ topics, forceUpdate: true });
    const request = (timestamp: bigint) =>
      topics.map((name) => {
        const t = meta.topics.get(name);
        if (!t) throw new Error(`endOffsets: topic ${name} does not exist`);
        return { name, partitions: Array.from({ length: t.partitionsCount }, (_, partitionIndex) => ({ partitionIndex, timestamp })) };
      });
    const level = isolation === 'read_committed' ? 1 : 0;
    const [latest, earliest] = await Promise.all([
      admin.listOffsets({ topics: request(ListOffsetTimestamps.LATEST), isolationLevel: level }),
      admin.listOffsets({ topics: request(ListOffsetTimestamps.EARLIEST), isolationLevel: level }),
    ]);
    const startOf = new Map(earliest.flatMap((t) => t.partitions.map((p) => [`${t.name}\0${p.partitionIndex}`, p.offset] as const)));
    return latest
      .flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, start: startOf.get(`${t.name}\0${p.partitionIndex}`) ?? 0n, end: p.offset })))
      .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  } finally {
    await admin.close();
  }
}

export interface ReadToEndOptions {
  isolation?: Isolation;
  /** Reject if some partition is not read to its end by then (default 180 s). */
  timeoutMs?: number;
  /** host:port list for the ListOffsets requests; default: the brokers the kafkajs client's cluster describes. */
  brokers?: string[];
  /**
   * read_committed only: first wait until no transaction is open on any partition (last stable
   * offset = high watermark), then read to that end. For counting after every writer has stopped: a
   * transaction left open by a killed producer is decided (fenced or timed out) before reading, so
   * its records count as what they became, not as missing. Rejects if it stays open past timeoutMs.
   */
  waitForStable?: boolean;
  /** kafkajs fetch sizes (default 64 MiB per fetch, 16 MiB per partition: a million events are ~400 MB). */
  maxBytes?: number;
  maxBytesPerPartition?: number;
}

export interface ReadToEndResult {
  ends: PartitionEnd[];
  /** Records handed to the callback (below the ends). */
  records: number;
  ms: number;
}

/**
 * Reads every partition of `topics` from its start to its end (taken now) and calls `onRecord` for
 * each record below the end, in offset order per partition. Resolves once the consumer has fetched
 * past the end of every partition, commit markers and aborted records included (kafkajs reports a
 * batch's last offset even when it filtered every record out), so nothing below the end is missed.
 */
export async function readToEnd(
  kafka: Kafka,
  topics: string[],
  onRecord: (topic: string, partition: number, message: KafkaMessage) => void,
  opts: ReadToEndOptions = {},
): Promise<ReadToEndResult> {
  const { isolation = 'read_committed', timeoutMs = 180_000 } = opts;
  const began = Date.now();
  let brokers = opts.brokers;
  if (!brokers) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      brokers = (await admin.describeCluster()).brokers.map((b) => `${b.host}:${b.port}`);
    } finally {
      await admin.disconnect();
    }
  }
  const ends = opts.waitForStable && isolation === 'read_committed' ? await stableEnds(brokers, topics, began + timeoutMs) : await endOffsets(brokers, topics, isolation);
  const key = (t: string, p: number) => `${t}\0${p}`;
  const endOf = new Map(ends.map((e) => [key(e.topic, e.partition), e.end]));
  // Partitions still to read: those with something between start and end.
  const pending = new Set(ends.filter((e) => e.end > e.start).map((e) => key(e.topic, e.partition)));
  let records = 0;
  if (pending.size === 0) return { ends, records, ms: Date.now() - began };

  const consumer = kafka.consumer({
    groupId: `read-to-end.${topics[0]}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}`,
    readUncommitted: isolation === 'read_uncommitted',
    maxWaitTimeInMs: 200,
    maxBytes: opts.maxBytes ?? 64 << 20,
    maxBytesPerPartition: opts.maxBytesPerPartition ?? 16 << 20,
  });
  let done: () => void = () => undefined;
  let crashed: (err: Error) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    crashed = reject;
  });
  // A fetch kafkajs cannot decode (a codec it lacks: zstd, lz4 and snappy unless registered; a
  // corrupt batch) crashes the consumer for good: fail now, with its error, not at the timeout.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) crashed(new Error(`readToEnd: the kafkajs consumer crashed: ${payload.error?.message ?? String(payload.error)}`));
  });
  // END_BATCH_PROCESS fires for every fetched batch, also for one whose records were all filtered
  // out (commit markers, aborted records), with the last offset fetched.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const k = key(payload.topic, payload.partition);
    const end = endOf.get(k);
    if (end !== undefined && BigInt(payload.lastOffset) >= end - 1n && pending.delete(k) && pending.size === 0) done();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 8,
      eachBatch: async ({ batch }) => {
        const end = endOf.get(key(batch.topic, batch.partition)) ?? 0n;
        for (const m of batch.messages) {
          if (BigInt(m.offset) >= end) break;
          onRecord(batch.topic, batch.partition, m);
          records++;
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs - (Date.now() - began)))));
    const outcome = await Promise.race([finished.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const behind = [...pending].map((k) => k.replace('\0', '-'));
      throw new Error(`readToEnd: ${behind.length} partition(s) not read to their ${isolation} end within ${timeoutMs} ms: ${behind.slice(0, 6).join(', ')}`);
    }
    return { ends, records, ms: Date.now() - began };
  } finally {
    await consumer.disconnect();
  }
}

/**
 * The read_committed ends once they equal the high watermarks, i.e. no transaction is open on any
 * partition of `topics`; polled every 500 ms, rejects after `timeoutMs`. Call it before
 * consumeWithJava when every writer has stopped, so a transaction a killed producer left open is
 * decided first.
 */
export async function waitForStableEnds(brokers: string[], topics: string[], timeoutMs = 180_000): Promise<PartitionEnd[]> {
  return stableEnds(brokers, topics, Date.now() + timeoutMs);
}

async function stableEnds(brokers: string[], topics: string[], deadline: number): Promise<PartitionEnd[]> {
  for (;;) {
    const [committed, all] = await Promise.all([endOffsets(brokers, topics, 'read_committed'), endOffsets(brokers, topics, 'read_uncommitted')]);
    // Both lists are sorted by topic and partition, so they pair up index by index.
    const open = committed.map((c, i) => ({ ...c, hw: all[i]!.end })).filter((c) => c.end !== c.hw);
    if (open.length === 0) return committed;
    if (Date.now() >= deadline) {
      const list = open.map((c) => `${c.topic}-${c.partition} (LSO ${c.end} < HW ${c.hw})`).slice(0, 6);
      // Name the producer that holds each open transaction and where it began (Kafka's own tool).
      const producers = await Promise.all(
        open.slice(0, 3).map((c) =>
          describeProducers(brokers, c.topic, c.partition).then(
            (table) => `${c.topic}-${c.partition}:\n${table}`,
            (err: Error) => `${c.topic}-${c.partition}: describe-producers failed: ${err.message}`,
          ),
        ),
      );
      throw new Error(`readToEnd: a transaction is still open on ${open.length} partition(s): ${list.join(', ')}\n${producers.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
