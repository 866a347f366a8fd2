import type { OutboundMessage } from '@sentiment-stream/events';
import { Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { byTopicPartitions, type TopicPartitionOffset } from './offset-tracker.js';

export type Delivery = 'at-least-once' | 'exactly-once';

/**
 * Publishes one batch's outputs (events and dead letters together, in input order). Exactly-once
 * also commits the batch's offsets inside the same transaction.
 */
export interface Sink {
  readonly delivery: Delivery;
  connect(): Promise<void>;
  publish(messages: OutboundMessage[], offsets: () => TopicPartitionOffset[]): Promise<void>;
  disconnect(): Promise<void>;
}

export function createSink(kafka: Kafka, delivery: Delivery, groupId: string, transactionalId: string): Sink {
  const producer = kafka.producer({
    // Java's murmur2 partitioner: a key lands on the same partition as with any other Kafka client.
    createPartitioner: Partitioners.DefaultPartitioner,
    // Idempotent with one request in flight: broker retries can neither duplicate nor reorder.
    idempotent: true,
    maxInFlightRequests: 1,
    // Keep retrying through a broker outage: the batch waits (and so does its partition) rather
    // than failing, and idempotence makes the retries safe. Backoff caps at 30 s.
    retry: { initialRetryTime: 300, maxRetryTime: 30_000, retries: Number.MAX_SAFE_INTEGER },
    ...(delivery === 'exactly-once' ? { transactionalId } : {}),
  });
  return {
    delivery,
    connect: () => producer.connect(),
    disconnect: () => producer.disconnect(),
    publish: (messages, offsets) =>
      delivery === 'exactly-once' ? publishInTransaction(producer, groupId, messages, offsets) : send(producer, messages),
  };
}

async function send(producer: Pick<Producer, 'sendBatch'>, messages: OutboundMessage[]): Promise<void> {
  if (messages.length > 0) await producer.sendBatch({ topicMessages: byTopic(messages), acks: -1 });
}

async function publishInTransaction(
  producer: Producer,
  groupId: string,
  messages: OutboundMessage[],
  offsets: () => TopicPartitionOffset[],
): Promise<void> {
  const tx = await producer.transaction();
  try {
    await send(tx, messages);
    const committable = offsets();
    if (committable.length > 0) await tx.sendOffsets({ consumerGroupId: groupId, topics: byTopicPartitions(committable) });
    await tx.commit();
  } catch (err) {
    await tx.abort().catch(() => undefined);
    throw err;
  }
}

function byTopic(messages: OutboundMessage[]): TopicMessages[] {
  const topics = new Map<string, Message[]>();
  for (const m of messages) {
    const list = topics.get(m.topic) ?? [];
    list.push({ key: m.key, value: m.value, headers: m.headers });
    topics.set(m.topic, list);
  }
  return [...topics].map(([topic, msgs]) => ({ topic, messages: msgs }));
}
