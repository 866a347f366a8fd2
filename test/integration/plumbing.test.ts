// The first integration test: kafkajs against a real broker, no application code. If this fails,
// nothing built on top of Kafka can pass, so it checks the things the scorer relies on: keyed
// produce, group consumption, committed offsets, and transactions (exactly-once plumbing).
import { describe, expect, it } from 'vitest';
import {
  committedOffsets,
  createKafka,
  createProducer,
  createTopic,
  highWatermarks,
  readAll,
  uniqueGroup,
  uniqueTopic,
} from '../support/kafka.js';

const PARTITIONS = 6;
const KEYS = 100;
const MESSAGES = 10_000;
const PER_KEY = MESSAGES / KEYS;
const SEND_CHUNK = 1_000;

interface Body {
  key: string;
  seq: number;
}

const keyName = (k: number): string => `key-${String(k).padStart(3, '0')}`;

describe('kafka plumbing', () => {
  it('delivers 10,000 keyed messages over 6 partitions exactly once, in order per key', async () => {
    const kafka = createKafka('plumbing');
    const topic = uniqueTopic('plumbing');
    await createTopic(kafka, topic, PARTITIONS);

    // Message i belongs to key i % KEYS and is that key's message number floor(i / KEYS).
    const producer = createProducer(kafka, { idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let start = 0; start < MESSAGES; start += SEND_CHUNK) {
        const messages = [];
        for (let i = start; i < Math.min(start + SEND_CHUNK, MESSAGES); i++) {
          const body: Body = { key: keyName(i % KEYS), seq: Math.floor(i / KEYS) };
          messages.push({ key: body.key, value: JSON.stringify(body) });
        }
        await producer.send({ topic, messages });
      }
    } finally {
      await producer.disconnect();
    }

    const groupId = uniqueGroup('plumbing');
    const received = await readAll(kafka, topic, { expected: MESSAGES, groupId, timeoutMs: 120_000 });

    expect(received.length).toBe(MESSAGES);

    const seen = new Set<string>();
    const seqsByKey = new Map<string, number[]>();
    const partitionsByKey = new Map<string, Set<number>>();
    for (const m of received) {
      const body = JSON.parse(m.value ?? 'null') as Body;
      expect(m.key).toBe(body.key);
      const id = `${body.key}#${body.seq}`;
      expect(seen.has(id), `duplicate ${id}`).toBe(false);
      seen.add(id);
      seqsByKey.set(body.key, [...(seqsByKey.get(body.key) ?? []), body.seq]);
      partitionsByKey.set(body.key, (partitionsByKey.get(body.key) ?? new Set()).add(m.partition));
    }

    // Exactly once: every (key, seq) arrived, none twice.
    expect(seen.size).toBe(MESSAGES);
    expect(seqsByKey.size).toBe(KEYS);
    const inOrder = Array.from({ length: PER_KEY }, (_, s) => s);
    for (const [key, seqs] of seqsByKey) {
      // Per-key order: a key lives on one partition and its messages arrive in send order.
      expect(partitionsByKey.get(key)?.size, `${key} partitions`).toBe(1);
      expect(seqs, `${key} order`).toEqual(inOrder);
    }
    // 100 keys hash onto more than one partition, so the test exercised the group's assignment.
    expect(new Set(received.map((m) => m.partition)).size).toBeGreaterThan(1);

    // The group committed exactly up to the end of every partition.
    const committed = await committedOffsets(kafka, groupId, topic);
    const high = await highWatermarks(kafka, topic);
    expect(high.size).toBe(PARTITIONS);
    let total = 0;
    for (const [partition, end] of high) {
      expect(committed.get(partition), `partition ${partition}`).toBe(end);
      total += Number(end);
    }
    expect(total).toBe(MESSAGES);
  });

  it('commits and aborts transactions, with consumer offsets sent inside the transaction', async () => {
    const kafka = createKafka('plumbing-txn');
    const input = uniqueTopic('plumbing-txn-in');
    const output = uniqueTopic('plumbing-txn-out');
    await createTopic(kafka, input, 1);
    await createTopic(kafka, output, 3);

    const plain = createProducer(kafka);
    await plain.connect();
    await plain.send({
      topic: input,
      messages: Array.from({ length: 10 }, (_, i) => ({ key: `in-${i}`, value: `in-${i}` })),
    });
    await plain.disconnect();

    const producer = createProducer(kafka, {
      transactionalId: uniqueTopic('plumbing-txn-id'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const consumerGroup = uniqueGroup('plumbing-txn');
    try {
      const committedTxn = await producer.transaction();
      await committedTxn.send({
        topic: output,
        messages: Array.from({ length: 100 }, (_, i) => ({ key: `k${i % 7}`, value: `committed-${i}` })),
      });
      await committedTxn.commit();

      const abortedTxn = await producer.transaction();
      await abortedTxn.send({
        topic: output,
        messages: Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 7}`, value: `aborted-${i}` })),
      });
      await abortedTxn.abort();

      // Consume-transform-produce: the outputs and the input offsets commit atomically.
      const ctpTxn = await producer.transaction();
      await ctpTxn.send({
        topic: output,
        messages: Array.from({ length: 10 }, (_, i) => ({ key: `in-${i}`, value: `transformed-${i}` })),
      });
      await ctpTxn.sendOffsets({
        consumerGroupId: consumerGroup,
        topics: [{ topic: input, partitions: [{ partition: 0, offset: '10' }] }],
      });
      await ctpTxn.commit();
    } finally {
      await producer.disconnect();
    }

    const committed = await readAll(kafka, output, { expected: 110 });
    const values = committed.map((m) => m.value ?? '');
    expect(values.length).toBe(110);
    expect(values.filter((v) => v.startsWith('aborted-'))).toEqual([]);
    expect(new Set(values).size).toBe(110);

    const everything = await readAll(kafka, output, { expected: 160, readUncommitted: true });
    expect(everything.length).toBe(160);

    expect((await committedOffsets(kafka, consumerGroup, input)).get(0)).toBe('10');
  });
});
