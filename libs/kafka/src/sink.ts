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
  const makeProducer = () =>
    kafka.producer({
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
  let producer = makeProducer();
  let closed = false;

  /**
   * Exactly-once, after a failed transaction: its outcome may be unknown to us (the broker went
   * away during the commit, which it may have completed). A new producer with the same
   * transactional id settles it: InitProducerId returns only once the coordinator has finished or
   * aborted that transaction, and it fences the old producer. Resolves once the new one holds the
   * transactional id, so the batch is not consumed again (from the committed offset, see
   * Source.resumeFromCommitted) before the old transaction's fate and offsets are on the broker.
   */
  const renew = async () => {
    const old = producer;
    producer = makeProducer();
    await old.disconnect().catch(() => undefined);
    for (let delay = 500; !closed; delay = Math.min(delay * 2, 10_000)) {
      try {
        await producer.connect();
        // kafkajs sends InitProducerId with the transactional id only when a transaction begins:
        // begin one now (it waits until the old transaction is settled) and drop it, empty.
        const tx = await producer.transaction();
        await tx.abort();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };

  return {
    delivery,
    connect: () => producer.connect(),
    disconnect: () => {
      closed = true;
      return producer.disconnect();
    },
    publish: async (messages, offsets) => {
      if (delivery !== 'exactly-once') return send(producer, messages);
      try {
        await publishInTransaction(producer, groupId, messages, offsets);
      } catch (err) {
        await renew();
        throw err;
      }
    },
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
