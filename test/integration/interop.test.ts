// The scorer with producers and consumers that are not ours: Apache Kafka's own Java client writes the
// input in every codec (and in transactions, some aborted), and reads the events back downstream.
// Runs on the Kafka client KAFKA_CLIENT names (make test-integration runs it once per client).
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { sentimentV1Schema } from '@sentiment-stream/events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { CompressionTypes } from 'kafkajs';
import { corruptBatchOnDisk } from '../support/record-batch.js';
import { CODECS, consumeWithJava, dumpLogSegments, ensureJavaTools, produceManyWithJava, produceWithJava, type JavaInputRecord } from '../support/java-clients.js';
import { createKafka, createProducer, createScorerTopics, createTopic, kafkaBrokers, readAll, uniqueTopic } from '../support/kafka.js';
import { localBroker, type LocalBroker } from '../support/local-broker.js';
import { clientEnv, startScorer, type ScorerProcess } from '../support/scorer.js';
import { produceTexts } from '../support/streams.js';

const kafka = createKafka('interop-suite');
const running: ScorerProcess[] = [];
let broker: LocalBroker;
const client = clientEnv().KAFKA_CLIENT ?? 'the default client';

beforeAll(async () => {
  broker = await localBroker(kafkaBrokers());
  await ensureJavaTools();
}, 600_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop('SIGKILL')));
});

afterAll(async () => {
  await broker?.stop();
}, 120_000);

async function launch(env: Record<string, string>): Promise<ScorerProcess> {
  const s = await startScorer({ KAFKA_BROKERS: broker.brokers.join(','), ...env });
  running.push(s);
  await s.ready();
  return s;
}

const TEXTS = ['a wonderful, moving film', 'dull and far too long', 'not bad at all', 'I want my money back'];
const records = (prefix: string, n: number): JavaInputRecord[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, text: `${TEXTS[i % TEXTS.length]} #${i}`, key: `k-${i % 37}`, headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` } }));

const ajv = new Ajv2020({ strict: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validate = ajv.compile(sentimentV1Schema);

/** Event ids a Java consumer (read_committed) reads from `topic`, each checked against the schema. */
async function javaEventIds(topic: string): Promise<string[]> {
  const { records: out } = await consumeWithJava({ brokers: broker.brokers, topic, timeoutMs: 120_000 });
  return out.map((r) => {
    const event = JSON.parse(r.value!) as { id: string };
    expect(validate(event), JSON.stringify(validate.errors)).toBe(true);
    return event.id;
  });
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

describe(`interoperability (${client})`, () => {
  it('scores input the Java producer wrote in every codec; a Java consumer reads each event once, in the codec we chose', async () => {
    const t = await createScorerTopics(kafka, 'interop.codecs', 6);
    const jobs = CODECS.map((compression) => ({ topic: t.input, records: records(compression, 200), compression }));
    await produceManyWithJava(broker.brokers, jobs);
    // The batches really carry the codecs (Kafka's own DumpLogSegments over the partition files).
    const logDir = broker.logDir(broker.brokers[0]!);
    const batches = await dumpLogSegments({ logDir, partitions: Array.from({ length: 6 }, (_, partition) => ({ topic: t.input, partition })) });
    expect(new Set(batches.map((b) => b.codec))).toEqual(new Set(['none', 'gzip', 'snappy', 'lz4', 'zstd']));
    await launch({ INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group, PRODUCER_COMPRESSION: 'zstd' });
    const expected = sorted(jobs.flatMap((j) => j.records.map((r) => r.id!)));
    const ids = await eventually(async () => {
      const got = await javaEventIds(t.output);
      expect(got.length).toBeGreaterThanOrEqual(expected.length);
      return got;
    }, 120_000);
    expect(sorted(ids)).toEqual(expected);
    const out = await dumpLogSegments({ logDir, partitions: Array.from({ length: 6 }, (_, partition) => ({ topic: t.output, partition })) });
    expect(new Set(out.map((b) => b.codec))).toEqual(new Set(['zstd']));
  });

  it('scores input a topic with compression.type=zstd recompressed', async () => {
    const t = { input: uniqueTopic('interop.zstd.in'), output: uniqueTopic('interop.zstd.out'), dlq: uniqueTopic('interop.zstd.dlq'), group: uniqueTopic('interop.zstd.group') };
    await createTopic(kafka, t.input, 3, { 'compression.type': 'zstd' });
    await createTopic(kafka, t.output, 3);
    await createTopic(kafka, t.dlq, 1);
    const sent = await produceTexts(kafka, t.input, 300);
    await launch({ INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group });
    const ids = await eventually(async () => {
      const got = await javaEventIds(t.output);
      expect(got.length).toBeGreaterThanOrEqual(sent.length);
      return got;
    }, 120_000);
    expect(sorted(ids)).toEqual(sorted(sent.map((s) => s.id)));
  });

  it.each(['at-least-once', 'exactly-once'] as const)(
    'a transactional Java producer with aborted transactions (%s): only committed records are scored, and lag returns to 0 past the markers',
    async (delivery) => {
      const t = await createScorerTopics(kafka, `interop.txn.${delivery}`, 3);
      const input = records('txn', 600);
      const aborted = new Set(input.filter((_, i) => i % 5 === 2).map((r) => r.id!));
      const result = await produceWithJava({ brokers: broker.brokers, topic: t.input, records: input, compression: 'lz4', transactional: { abortedIds: aborted, recordsPerTransaction: 20 } });
      expect(result.aborted).toBe(aborted.size);
      const s = await launch({ INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group, DELIVERY: delivery });
      const committedIds = sorted(input.map((r) => r.id!).filter((id) => !aborted.has(id)));
      const ids = await eventually(async () => {
        const got = await javaEventIds(t.output);
        expect(got.length).toBeGreaterThanOrEqual(committedIds.length);
        return got;
      }, 120_000);
      expect(sorted(ids)).toEqual(committedIds);
      // The input ends in a commit marker on every partition: the group must commit past it, or
      // lag reads 1 per partition for ever (and KEDA never scales an idle exactly-once group to zero).
      const admin = kafka.admin();
      await admin.connect();
      try {
        await eventually(async () => {
          const [high, [committed]] = await Promise.all([admin.fetchTopicOffsets(t.input), admin.fetchOffsets({ groupId: t.group, topics: [t.input] })]);
          const lag = high.map((p) => Number(p.high) - Number(committed!.partitions.find((c) => c.partition === p.partition)!.offset));
          expect(lag).toEqual([0, 0, 0]);
        }, 60_000);
      } finally {
        await admin.disconnect();
      }
      expect(((await s.status()) as { ready: boolean }).ready).toBe(true);
    },
  );

  it('a batch no client can decode (corrupt bytes on disk): skipped with a CORRUPT_BATCH dead letter; every other record scored, that partition included', async () => {
    const t = await createScorerTopics(kafka, 'interop.corrupt', 3);
    // Three gzip batches of 20 records on each partition; then partition 1's middle batch is broken
    // on the broker's disk (Kafka 4.4 refuses undecodable batches on produce: test/interop/README.md).
    const producer = createProducer(kafka);
    await producer.connect();
    const sent: string[] = [];
    for (let b = 0; b < 3; b++) {
      for (let partition = 0; partition < 3; partition++) {
        const messages = Array.from({ length: 20 }, (_, i) => {
          const id = `p${partition}-b${b}-${i}`;
          sent.push(id);
          return { partition, key: `k-${i}`, value: JSON.stringify({ id, text: 'a good film' }) };
        });
        await producer.send({ topic: t.input, compression: CompressionTypes.GZIP, messages });
      }
    }
    await producer.disconnect();
    const bad = corruptBatchOnDisk({ logDir: broker.logDir(broker.brokers[0]!), topic: t.input, partition: 1, offset: 25 });
    expect([bad.baseOffset, bad.lastOffset]).toEqual([20, 39]);
    const lost = new Set(Array.from({ length: 20 }, (_, i) => `p1-b1-${i}`));

    const s = await launch({ INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group, LOG_LEVEL: 'info' });
    const events = await readAll(kafka, t.output, { expected: sent.length - lost.size, timeoutMs: 120_000, settleMs: 1_000 });
    expect(sorted(events.map((e) => (JSON.parse(e.value!) as { id: string }).id))).toEqual(sorted(sent.filter((id) => !lost.has(id))));
    const [letter] = await readAll(kafka, t.dlq, { expected: 1, timeoutMs: 60_000 });
    expect(letter?.value).toBeNull();
    expect(Object.fromEntries(Object.entries(letter!.headers).map(([k, v]) => [k, v?.toString()]))).toMatchObject({
      'x-error-code': 'CORRUPT_BATCH',
      'x-source-topic': t.input,
      'x-source-partition': '1',
      'x-source-offset': '20',
      'x-source-last-offset': '39',
    });
    await eventually(async () => expect(await s.metrics()).toMatch(new RegExp(`sentiment_records_skipped_total\\{topic="${t.input.replace(/\./g, '\\.')}"\\} 20`)), 30_000);
    expect(s.output()).toMatch(/"partition":1,"from":"20","to":"39".*records no client can decode were skipped/);
    expect(((await s.status()) as { ready: boolean }).ready).toBe(true);
  });
});
