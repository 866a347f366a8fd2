import type { OutboundMessage, SourceRecord } from '@sentiment-stream/events';

/** The partitions this member holds, per topic. */
export interface Assignment {
  topic: string;
  partitions: number[];
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** The offset to commit for a partition: the next one to read. */
export interface PartitionOffset extends TopicPartition {
  offset: bigint;
}

/** An output with the partition the transport chose for it. */
export interface PlacedMessage extends OutboundMessage {
  partition: number;
}

export interface TopicInfo {
  partitions: number;
  /** The topic's max.message.bytes: the largest record batch the broker accepts. */
  maxMessageBytes: number;
}

/** What a driver tells the transport while it consumes. */
export interface DriverHandlers {
  /**
   * Records fetched together, in offset order per partition. `positions` holds, per partition key
   * (`topic:partition`), the next offset the client will fetch once these are consumed, which is
   * past trailing transaction markers and aborted records: committing it keeps an idle
   * transactional input at lag 0. `records` may be empty when only markers moved a position.
   * The promise settles when the records are done (their outputs published and their offsets
   * committed, or dropped to be delivered again); it gives, per partition key, the last offset done.
   * kafkajs waits on it; @platformatic/kafka does not.
   */
  records(records: SourceRecord[], positions: ReadonlyMap<string, bigint>, context: unknown): Promise<ReadonlyMap<string, bigint>>;
  /** A (new) assignment after a group join. */
  assigned(assignment: Assignment[]): void;
  /** Called before the member rejoins its group: resolves once in-flight work is published and committed (bounded). */
  rejoining(): Promise<void>;
  /**
   * A fetch keeps failing to decode (corrupt bytes in some partition): the transport finds the
   * batch, records it in the DLQ, commits past it and reads again (rewind).
   */
  undecodable(err: unknown): void;
  /**
   * The client's record stream failed for good (a fetch that kept failing through a failover): the
   * transport finishes or drops what that stream handed out, then calls rewind to read again from
   * the committed offsets. A new stream started while that work was in flight read it twice.
   */
  streamFailed(err: unknown): void;
  /** Trouble the client rides out (logged, not fatal). */
  warning(message: string, err?: unknown): void;
  /** The client cannot go on: the service must stop and exit non-zero. */
  fatal(err: Error): void;
}

/**
 * One Kafka client library behind the transport: consuming, producing, transactions, commits.
 * Everything above it (ordering, acknowledgement, isolation of refused outputs, draining) is
 * the transport's, written once.
 */
export interface Driver {
  readonly name: 'platformatic' | 'kafkajs';
  /** Connects the producer (and, exactly-once, registers the transactional id). Rejects when the cluster cannot be reached. */
  connect(): Promise<void>;
  /** Partition counts and size limits of those of `topics` that exist (a missing one is left out of the map). */
  describeTopics(topics: string[]): Promise<Map<string, TopicInfo>>;
  /** Joins the group and starts fetching; resolves once consuming has started. */
  startConsuming(handlers: DriverHandlers): Promise<void>;
  /** Stops or restarts fetching of everything (backpressure and draining). */
  pauseFetching(): void;
  resumeFetching(): void;
  /**
   * After a partition was held back (a refused output) and its committed offset moved on: read it
   * again from its committed offset. kafkajs seeks that partition; @platformatic/kafka starts a new
   * stream for every partition (`needsDrainToRewind`), so the transport drains first.
   */
  rewind(tp: TopicPartition, offset: bigint): Promise<void>;
  readonly needsDrainToRewind: boolean;
  /** Holds a partition back: no more records of it until rewind. */
  holdPartition(tp: TopicPartition): void;
  /** Idempotent produce, acks=all. */
  send(messages: PlacedMessage[]): Promise<void>;
  /**
   * One transaction: the messages (one produce request per chunk, in order) and the offsets (of the
   * group generation `context` holds) commit or abort together.
   */
  transaction(chunks: PlacedMessage[][], offsets: PartitionOffset[], context: unknown): Promise<void>;
  /**
   * A new producer, after a transaction failed with an unknown outcome or a send stalled. Exactly-
   * once: under the same transactional id, whose registration waits until the coordinator has
   * settled the old one.
   */
  renewProducer(): Promise<void>;
  /** At-least-once commit of the group's offsets. */
  commit(offsets: PartitionOffset[], context: unknown): Promise<void>;
  /** The group's committed offsets of these partitions (-1n when none). */
  committed(tps: TopicPartition[]): Promise<Map<string, bigint>>;
  /** Leaves the group and closes the consumer. */
  stopConsuming(): Promise<void>;
  closeProducer(): Promise<void>;
}

export const tpKey = (topic: string, partition: number) => `${topic}:${partition}`;
