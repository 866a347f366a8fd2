// Prints what the Java interop tools cost (the figures in test/interop/README.md): the Maven build
// (REBUILD=1 deletes the cached build first), then wall time per call of produceWithJava,
// produceManyWithJava and consumeWithJava at a few sizes, JVM start included.
// Run: KAFKA_PORT=28098 bash deploy/kafka/with-broker.sh node --import tsx test/interop/measure-java.ts
import { rmSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { CODECS, consumeWithJava, ensureJavaTools, javaToolsDir, produceManyWithJava, produceWithJava } from '../support/java-clients.js';

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) throw new Error('KAFKA_BROKERS is not set: run me through deploy/kafka/with-broker.sh');

if (process.env.REBUILD === '1') {
  rmSync(javaToolsDir(), { recursive: true, force: true });
  console.log(`removed ${javaToolsDir()}`);
}
const tools = await ensureJavaTools();
console.log(`Java tools: ${tools.built ? `built in ${tools.ms} ms (mvn package; ~/.m2 as it is)` : `cached (${tools.ms} ms to check)`}`);

const kafka = new Kafka({ clientId: 'measure-java', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const run = Date.now().toString(36);
const topic = (name: string) => `measure-java.${run}.${name}`;
await admin.createTopics({ topics: ['empty', 's200', 'l10k', ...CODECS].map((n) => ({ topic: topic(n), numPartitions: 3 })), waitForLeaders: true });
await admin.disconnect();

const rec = (n: number, p: string) => Array.from({ length: n }, (_, i) => ({ id: `${p}-${i}`, text: `the film was wonderful and the acting superb (${i})`, key: `k${i % 50}` }));
const time = async (label: string, f: () => Promise<unknown>) => {
  const began = Date.now();
  await f();
  console.log(`${label}: ${Date.now() - began} ms`);
};

await time('produceWithJava, 0 records (JVM start + producer start and close)', () => produceWithJava({ brokers, topic: topic('empty'), records: [] }));
await time('produceWithJava, 200 records, zstd', () => produceWithJava({ brokers, topic: topic('s200'), records: rec(200, 's'), compression: 'zstd' }));
await time('produceManyWithJava, 5 topics x 200 records, one codec each', () =>
  produceManyWithJava(
    brokers,
    CODECS.map((c) => ({ topic: topic(c), records: rec(200, c), compression: c })),
  ),
);
await time('produceWithJava, 10,000 records, lz4', () => produceWithJava({ brokers, topic: topic('l10k'), records: rec(10_000, 'l'), compression: 'lz4' }));
await time('produceWithJava, 10,000 records, transactional (100 per transaction, 1 in 10 aborted)', () =>
  produceWithJava({ brokers, topic: topic('l10k'), records: rec(10_000, 't'), transactional: { abortedIds: rec(10_000, 't').filter((_, i) => Math.floor(i / 100) % 10 === 0).map((r) => r.id), recordsPerTransaction: 100 } }),
);
await time('consumeWithJava, 200 records', () => consumeWithJava({ brokers, topic: topic('s200') }));
await time('consumeWithJava, 1,000 records of 5 topics', () => consumeWithJava({ brokers, topics: CODECS.map(topic) }));
let n = 0;
await time('consumeWithJava, 20,000 records (onRecord, read_committed past 1,000 aborted)', async () => {
  const r = await consumeWithJava({ brokers, topic: topic('l10k'), onRecord: () => void n++ });
  if (n !== 19_000 || r.count !== n) throw new Error(`read ${n} records, expected 19,000`);
});
