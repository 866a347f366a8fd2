// The interoperability tools themselves, proven against a real broker before the scorer's tests rely
// on them (test/support/java-clients.ts, record-batch.ts, raw-produce.ts, end-offsets.ts):
//   - Apache Kafka's Java producer writes every codec in real, compressed batches (Kafka's own
//     DumpLogSegments says so), and its Java consumer reads every record back;
//   - its transactional mode really writes aborted records, which read_committed readers (the Java
//     consumer, and readToEnd with kafkajs) skip, and the read_committed end is the last stable offset;
//   - what a corrupt batch can be: Kafka 4.4 refuses undecodable batches on produce (its answer is
//     checked), so corruptBatchOnDisk writes one into the partition file, and the Java consumer stops
//     there; a gzip batch with trailing bytes gets through produce and only Node's zlib fails on it.
// The broker must be one deploy/kafka runs here (its log dir is read); otherwise one is started.
import { gunzipSync, zstdCompressSync } from 'node:zlib';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endOffsets, readToEnd } from '../support/end-offsets.js';
import { CODECS, JavaConsumerError, consumeWithJava, dumpLogSegments, ensureJavaTools, produceWithJava, produceManyWithJava, type Codec, type JavaInputRecord, type LogBatch } from '../support/java-clients.js';
import { kafkaBrokers, uniqueTopic } from '../support/kafka.js';
import { localBroker, type LocalBroker } from '../support/local-broker.js';
import { partitionLeader, rawProduce } from '../support/raw-produce.js';
import { BATCH_HEADER_SIZE, corruptBatchOnDisk, encodeRecordBatch, encodeRecords, gzipBatchWithTrailingGarbage, readSegmentBatches } from '../support/record-batch.js';

let broker: LocalBroker;
let kafka: Kafka;

beforeAll(async () => {
  broker = await localBroker(kafkaBrokers());
  kafka = new Kafka({ clientId: 'interop-tools', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  // The first build runs Maven (about 20 s, more with an empty ~/.m2); every later run finds it cached.
  const tools = await ensureJavaTools();
  console.log(`[interop] Java tools ${tools.built ? `built in ${tools.ms} ms` : 'cached'}: ${tools.dir}`);
}, 600_000);

afterAll(async () => {
  await broker?.stop();
}, 120_000);

// Review-like texts, repeated: what a compressor can shrink, so compressed batches are visibly smaller.
const TEXTS = ['the film was wonderful and the acting superb', 'a dull plot and a worse ending', 'not bad at all, I would watch it again'];

function inputs(prefix: string, n: number, partitions?: number): JavaInputRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    text: `${TEXTS[i % TEXTS.length]} (${i})`,
    key: `k-${i % 20}`,
    headers: { 'x-source': 'java', 'x-n': String(i) },
    ...(partitions ? { partition: i % partitions } : {}),
  }));
}

/**
 * Creates the topics in one request and polls until every partition has a leader (kafkajs's own
 * waitForLeaders gives up with UNKNOWN_TOPIC_OR_PARTITION while a busy broker is still creating them).
 */
async function createTopics(partitions: number, ...topics: Array<string | { topic: string; config: Record<string, string> }>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const specs = topics.map((t) => (typeof t === 'string' ? { topic: t, config: {} } : t));
    await admin.createTopics({
      topics: specs.map(({ topic, config }) => ({ topic, numPartitions: partitions, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) })),
      waitForLeaders: false,
    });
    for (const began = Date.now(); ; ) {
      const led = await admin
        .fetchTopicMetadata({ topics: specs.map((s) => s.topic) })
        .then((m) => m.topics.every((t) => t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0)))
        .catch(() => false);
      if (led) return;
      if (Date.now() - began > 30_000) throw new Error(`topics ${specs.map((s) => s.topic).join(', ')} have no leaders after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

/** DumpLogSegments over every partition of `topics`, each read in the log dir of its leader. */
async function dumpAll(topics: string[], partitions: number): Promise<LogBatch[]> {
  const byDir = new Map<string, Array<{ topic: string; partition: number }>>();
  for (const topic of topics) {
    for (let partition = 0; partition < partitions; partition++) {
      const dir = broker.logDir(await partitionLeader(broker.brokers, topic, partition));
      byDir.set(dir, [...(byDir.get(dir) ?? []), { topic, partition }]);
    }
  }
  const dumps = await Promise.all([...byDir].map(([logDir, list]) => dumpLogSegments({ logDir, partitions: list })));
  return dumps.flat();
}

const ids = (values: Array<string | null>) => values.map((v) => (JSON.parse(v ?? 'null') as { id: string }).id).sort();

describe('Java clients', () => {
  it('the Java producer writes 200 records per codec in compressed batches of that codec, and the Java consumer reads every one back', async () => {
    const topicOf = Object.fromEntries(CODECS.map((c) => [c, uniqueTopic(`interop.codec.${c}`)])) as Record<Codec, string>;
    // A topic whose own compression.type is zstd: the broker recompresses whatever the producer sends.
    const zstdTopic = uniqueTopic('interop.topic-zstd');
    await createTopics(3, ...CODECS.map((c) => topicOf[c]), { topic: zstdTopic, config: { 'compression.type': 'zstd' } });

    // One JVM, one producer per topic in turn.
    const produced = await produceManyWithJava(broker.brokers, [
      ...CODECS.map((c) => ({ topic: topicOf[c], records: inputs(c, 200), compression: c })),
      { topic: zstdTopic, records: inputs('topic-zstd', 200), compression: 'none' as const },
    ]);
    for (const [i, p] of produced.entries()) {
      const codec = CODECS[i] ?? 'none';
      expect(p.sent, codec).toBe(200);
      expect(p.records.every((r) => r.offset >= 0)).toBe(true);
      // The producer's own metric: compressed size / uncompressed size of its batches.
      if (codec === 'none') expect(p.compressionRateAvg, codec).toBe(1);
      else expect(p.compressionRateAvg, codec).toBeLessThan(0.7);
    }
    console.log(`[interop] Java producer, 6 topics × 200 records in ${produced[0]!.wallMs} ms: ${produced.map((p, i) => `${CODECS[i] ?? 'none→zstd topic'} ${p.javaMs} ms (rate ${p.compressionRateAvg.toFixed(2)})`).join(', ')}`);

    const all = [...CODECS.map((c) => topicOf[c]), zstdTopic];
    const read = await consumeWithJava({ brokers: broker.brokers, topics: all });
    console.log(`[interop] Java consumer read ${read.records.length} records of ${all.length} topics in ${read.wallMs} ms`);
    for (const [i, topic] of all.entries()) {
      const prefix = CODECS[i] ?? 'topic-zstd';
      const got = read.records.filter((r) => r.topic === topic);
      expect(ids(got.map((r) => r.value)), topic).toEqual(inputs(prefix, 200).map((r) => r.id!).sort());
      const one = got.find((r) => r.value?.includes(`"${prefix}-7"`))!;
      expect(JSON.parse(one.value!)).toEqual({ id: `${prefix}-7`, text: `${TEXTS[7 % 3]} (7)` });
      expect(one.key).toBe('k-7');
      expect(one.headers).toEqual({ 'x-source': 'java', 'x-n': '7' });
    }

    const batches = await dumpAll(all, 3);
    for (const [i, topic] of all.entries()) {
      const codec = CODECS[i] ?? 'zstd';
      const data = batches.filter((b) => b.topic === topic && !b.isControl);
      expect(new Set(data.map((b) => b.codec)), topic).toEqual(new Set([codec]));
      expect(data.reduce((n, b) => n + b.count, 0)).toBe(200);
      expect(data.every((b) => b.isValid)).toBe(true);
      // Real batching: far fewer batches than records (linger.ms 20, every record sent before the flush).
      expect(data.length).toBeLessThanOrEqual(30);
    }
    // The TypeScript segment reader (record-batch.ts) agrees with Kafka's tool, batch for batch.
    const mine = batches
      .filter((b) => b.topic === topicOf.lz4)
      .flatMap((b) => readSegmentBatches(b.segment).map((s) => `${b.partition}:${s.baseOffset}-${s.lastOffset}:${s.codec}:${s.crcValid}`));
    const theirs = batches.filter((b) => b.topic === topicOf.lz4).map((b) => `${b.partition}:${b.baseOffset}-${b.lastOffset}:${b.codec}:${b.isValid}`);
    expect([...new Set(mine)].sort()).toEqual(theirs.sort());
  });

  it('transactional mode: aborted records are in the log, read_committed readers skip them, and the read_committed end is the last stable offset', async () => {
    const topic = uniqueTopic('interop.tx');
    await createTopics(3, topic);
    const records = inputs('tx', 200, 3);
    const aborted = records.filter((_, i) => (i >= 40 && i < 80) || (i >= 150 && i < 170)).map((r) => r.id!);
    const committed = records.map((r) => r.id!).filter((id) => !aborted.includes(id));

    // gzip: the one codec kafkajs (readToEnd below) decodes without registering others.
    const p = await produceWithJava({ brokers: broker.brokers, topic, records, compression: 'gzip', transactional: { abortedIds: aborted, recordsPerTransaction: 25 } });
    expect(p).toMatchObject({ sent: 200, committed: 140, aborted: 60, transactions: { aborted: 3 } });
    expect(p.transactions.committed).toBeGreaterThanOrEqual(6);

    const [rc, ru, ends, hw] = await Promise.all([
      consumeWithJava({ brokers: broker.brokers, topic }),
      consumeWithJava({ brokers: broker.brokers, topic, isolation: 'read_uncommitted' }),
      endOffsets(broker.brokers, [topic], 'read_committed'),
      endOffsets(broker.brokers, [topic], 'read_uncommitted'),
    ]);
    expect(ids(rc.records.map((r) => r.value))).toEqual([...committed].sort());
    expect(ids(ru.records.map((r) => r.value))).toEqual(records.map((r) => r.id!).sort());
    // Nothing is open: the LSO is the high watermark, past the last commit/abort marker of each partition.
    expect(ends.map((e) => [e.topic, e.partition, Number(e.end)])).toEqual(rc.endOffsets.map((e) => [e.topic, e.partition, e.offset]));
    expect(ends.map((e) => e.end)).toEqual(hw.map((e) => e.end));
    const lastData = new Map<number, number>();
    for (const r of ru.records) lastData.set(r.partition, Math.max(lastData.get(r.partition) ?? -1, r.offset));
    for (const e of ends) expect(Number(e.end)).toBeGreaterThan(lastData.get(e.partition)! + 1);

    // readToEnd (kafkajs, read_committed) ends at the same place with the same records, without waiting for quiet.
    const seen: string[] = [];
    const r = await readToEnd(kafka, [topic], (_t, _p, m) => seen.push(m.value!.toString()), { brokers: broker.brokers, timeoutMs: 30_000 });
    expect(ids(seen)).toEqual([...committed].sort());
    expect(r.records).toBe(140);

    const batches = await dumpAll([topic], 3);
    expect(batches.filter((b) => !b.isControl).every((b) => b.isTransactional && b.codec === 'gzip')).toBe(true);
    // A marker per transaction and partition it wrote to: 3 partitions, at least 9 transactions.
    expect(batches.filter((b) => b.isControl).length).toBeGreaterThanOrEqual(9 * 3);
  });

  it('readToEnd with read_committed stops at the last stable offset while a transaction is open, and waitForStable waits for it to close', async () => {
    const topic = uniqueTopic('interop.open-tx');
    await createTopics(1, topic);
    await produceWithJava({ brokers: broker.brokers, topic, records: inputs('before', 10) });
    const producer = kafka.producer({ transactionalId: `${topic}.tx`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [{ value: JSON.stringify({ id: 'open-0', text: 'x' }) }] });
      const [lso] = await endOffsets(broker.brokers, [topic], 'read_committed');
      const [hw] = await endOffsets(broker.brokers, [topic], 'read_uncommitted');
      expect([lso!.end, hw!.end]).toEqual([10n, 11n]);
      const seen: string[] = [];
      await readToEnd(kafka, [topic], (_t, _p, m) => seen.push(m.value!.toString()), { brokers: broker.brokers, timeoutMs: 30_000 });
      expect(seen).toHaveLength(10);
      await expect(readToEnd(kafka, [topic], () => undefined, { brokers: broker.brokers, waitForStable: true, timeoutMs: 1_500 })).rejects.toThrow(/transaction is still open.*LSO 10 < HW 11/);
      const waiting = readToEnd(kafka, [topic], (_t, _p, m) => seen.push(m.value!.toString()), { brokers: broker.brokers, waitForStable: true, timeoutMs: 30_000 });
      await tx.commit();
      await waiting;
      expect(ids(seen.slice(10))).toEqual([...inputs('before', 10).map((r) => r.id!), 'open-0'].sort());
    } finally {
      await producer.disconnect();
    }
  });
});

describe('corrupt batches', () => {
  const five = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ id: `raw-${i}`, text: 'fine' }) }));

  it('Kafka 4.4 refuses, on produce, every batch whose body does not decode: UNKNOWN_SERVER_ERROR for a bad compressed body, INVALID_RECORD for bad records, CORRUPT_MESSAGE for a bad CRC', async () => {
    const topic = uniqueTopic('interop.raw');
    await createTopics(1, topic);
    const leader = await partitionLeader(broker.brokers, topic, 0);
    const send = (batch: Buffer) => rawProduce({ broker: leader, topic, partition: 0, batch });
    // The encoder is right: a well-formed zstd batch is accepted.
    expect(await send(encodeRecordBatch({ records: five, codec: 'zstd' }))).toMatchObject({ errorName: 'NONE', baseOffset: 0 });
    for (const codec of ['zstd', 'gzip', 'lz4', 'snappy'] as const) {
      // A correct CRC over a body that is not the codec's format: the broker decompresses it to validate.
      expect(await send(encodeRecordBatch({ records: five, codec, body: Buffer.alloc(200, 0xff) })), codec).toMatchObject({ errorName: 'UNKNOWN_SERVER_ERROR' });
    }
    expect(await send(encodeRecordBatch({ records: five, codec: 'zstd', body: zstdCompressSync(Buffer.alloc(200, 0xff)) }))).toMatchObject({ errorName: 'INVALID_RECORD' });
    expect(await send(encodeRecordBatch({ records: five, codec: 'none', body: Buffer.concat([encodeRecords(five), Buffer.alloc(20, 0xff)]) }))).toMatchObject({ errorName: 'INVALID_RECORD' });
    expect(await send(encodeRecordBatch({ records: five, codec: 'zstd', badCrc: true }))).toMatchObject({ errorName: 'CORRUPT_MESSAGE' });
    // Only the one good batch is in the partition.
    const [end] = await endOffsets(broker.brokers, [topic], 'read_uncommitted');
    expect(end!.end).toBe(5n);
  });

  it('corruptBatchOnDisk turns one batch of a live partition into bytes that do not decode; the Java consumer reads up to it and fails there, naming the partition', async () => {
    const topic = uniqueTopic('interop.corrupt');
    await createTopics(1, topic);
    // Small batches (4 KiB), so the partition holds several and only one is broken.
    await produceWithJava({ brokers: broker.brokers, topic, records: inputs('c', 300), compression: 'gzip', batchSize: 4096 });
    const leader = await partitionLeader(broker.brokers, topic, 0);
    const hit = corruptBatchOnDisk({ logDir: broker.logDir(leader), topic, partition: 0, offset: 150 });
    expect(hit.baseOffset).toBeGreaterThan(0);
    expect(hit.codec).toBe('gzip');

    // Kafka's own tool still finds the batch well-formed on the outside: header intact, CRC matching.
    const after = await dumpLogSegments({ logDir: broker.logDir(leader), topic, partition: 0 });
    expect(after.find((b) => b.baseOffset === hit.baseOffset)).toMatchObject({ codec: 'gzip', isValid: true, lastOffset: hit.lastOffset });

    const err = await consumeWithJava({ brokers: broker.brokers, topic, timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JavaConsumerError);
    const e = err as JavaConsumerError;
    expect(e.kind).toBe('error');
    expect(e.message).toContain(`${topic}-0`);
    expect(e.message).toMatch(/Not in GZIP format/);
    // Everything before the broken batch was read, nothing from it.
    expect(e.records.map((r) => r.offset)).toEqual(Array.from({ length: hit.baseOffset }, (_, i) => i));
  });

  it('a gzip batch with trailing bytes gets through produce and decodes in Java, but not with Node zlib', async () => {
    const topic = uniqueTopic('interop.gzip-trailing');
    await createTopics(1, topic);
    const batch = gzipBatchWithTrailingGarbage(five);
    const leader = await partitionLeader(broker.brokers, topic, 0);
    expect(await rawProduce({ broker: leader, topic, partition: 0, batch })).toMatchObject({ errorName: 'NONE' });
    const read = await consumeWithJava({ brokers: broker.brokers, topic });
    expect(read.records.map((r) => r.value)).toEqual(five.map((r) => r.value));
    expect(() => gunzipSync(batch.subarray(BATCH_HEADER_SIZE))).toThrow(/incorrect header check/);
  });
});
