import type { SourceRecord } from '@sentiment-stream/events';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from './client.js';
import { byTopicPartitions, type TopicPartitionOffset } from './offset-tracker.js';

export interface SourceOptions {
  groupId: string;
  topics: string[];
  /** Upper bound of one fetch over all partitions: the in-flight bound that keeps memory flat. */
  fetchMaxBytes: number;
  /** Partitions handled at once; cross-partition batching needs them all in flight together. */
  partitionsConcurrently: number;
  /** How often to heartbeat while a handler waits on inference. */
  heartbeatEveryMs: number;
  /** At-least-once commits here, after the handler; exactly-once commits inside the producer's transaction. */
  commitAfterHandler: boolean;
  /**
   * Exactly-once: after a failed batch, resume from the group's committed offset rather than from
   * kafkajs's in-memory position, because the failed batch's transaction may have committed after all.
   */
  resumeFromCommitted?: boolean;
}

export interface Assignment {
  topic: string;
  partitions: number[];
}

/**
 * Callbacks the source makes. `handle` resolves once every record's output is acknowledged;
 * `committable` then names the offsets that may be committed.
 */
export interface SourceHandler {
  handle(records: SourceRecord[]): Promise<void>;
  committable(): TopicPartitionOffset[];
  /** The handler failed for this partition; its records will be delivered again. */
  abandon(topic: string, partition: number): void;
  onJoin(assignment: Assignment[]): void;
  onCommit(result: 'ok' | 'error'): void;
}

/**
 * A consumer-group member that hands each fetched partition batch to the handler and waits for it,
 * heartbeating meanwhile. Waiting is the backpressure: nothing more is fetched for a partition
 * until its outputs are on the broker, so in-flight work is bounded by one fetch.
 */
export class Source {
  readonly consumer: Consumer;
  private assignment: Assignment[] = [];
  private removeJoinListener: (() => void) | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: SourceOptions,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      maxBytes: opts.fetchMaxBytes,
      maxBytesPerPartition: Math.min(opts.fetchMaxBytes, 1 << 20),
      // Cooperative latency: return as soon as anything is there, wait at most 100 ms otherwise.
      maxWaitTimeInMs: 100,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3_000,
      retry: { initialRetryTime: 300, maxRetryTime: 30_000, retries: 10 },
    });
  }

  get assigned(): Assignment[] {
    return this.assignment;
  }

  /** Connects, joins the group and starts consuming; safe to call again after it failed. */
  async start(handler: SourceHandler): Promise<void> {
    const { consumer } = this;
    this.removeJoinListener?.();
    this.removeJoinListener = consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.assignment = Object.entries(payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions }));
      handler.onJoin(this.assignment);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.opts.topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConcurrently,
      eachBatch: (payload) => this.eachBatch(payload, handler),
    });
  }

  async stop(): Promise<void> {
    // disconnect() stops fetching, waits for running eachBatch calls (ours wait for their outputs
    // and commit), then leaves the group so partitions move on at once.
    await this.consumer.disconnect();
  }

  private async eachBatch(payload: EachBatchPayload, handler: SourceHandler): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const records = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
    try {
      await this.waitHeartbeating(handler.handle(records), payload.heartbeat);
    } catch (err) {
      handler.abandon(batch.topic, batch.partition);
      // kafkajs retries a failed batch from its first offset. One batch (a whole fetch of this
      // partition, up to 1 MB) spans many transactions; exactly-once has committed the outputs and
      // offsets of all but the failed one, so starting again at the batch's first offset would score
      // and commit them twice (the fault suite's broker outage: ~3,300 duplicates behind a
      // read_committed reader). The sink has settled the failed transaction by now, so the group's
      // committed offset is exactly where to resume.
      if (this.opts.resumeFromCommitted) {
        // Better to stop than to guess: not retriable, so kafkajs crashes without restarting and
        // the scorer exits; the orchestrator's restart resumes from the committed offset.
        await this.seekToCommitted(batch.topic, batch.partition).catch((seekErr: Error) => {
          throw Object.assign(new Error(`cannot read the committed offset of ${batch.topic}-${batch.partition} after a failed transaction: ${seekErr.message}`), { retriable: false });
        });
      }
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { retriable: true });
    }
    payload.resolveOffset(batch.lastOffset());
    if (this.opts.commitAfterHandler) await this.commit(handler, payload);
  }

  private async commit(handler: SourceHandler, payload: EachBatchPayload): Promise<void> {
    const offsets = handler.committable();
    if (offsets.length === 0) return;
    try {
      // Through the batch's own callback: it commits even while the consumer is stopping.
      await payload.commitOffsetsIfNecessary({ topics: byTopicPartitions(offsets) });
      handler.onCommit('ok');
    } catch (err) {
      // A commit lost in a rebalance means re-delivery (duplicates), never loss.
      handler.onCommit('error');
      this.logger.warn({ err: (err as Error).message }, 'offset commit failed; records will be delivered again');
    }
  }

  private async seekToCommitted(topic: string, partition: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const admin = this.kafka.admin({ retry: { retries: 2 } });
      try {
        await admin.connect();
        const [entry] = await admin.fetchOffsets({ groupId: this.opts.groupId, topics: [topic] });
        const committed = entry?.partitions.find((p) => p.partition === partition)?.offset;
        // Nothing committed yet: the in-memory retry starts at the batch's first offset, which is right.
        if (committed !== undefined && BigInt(committed) >= 0n) {
          this.consumer.seek({ topic, partition, offset: committed });
          this.logger.info({ topic, partition, offset: committed }, 'resuming from the committed offset after a failed transaction');
        }
        return;
      } catch (err) {
        if (attempt >= 5) throw err;
        await sleep(1_000 * attempt);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    }
  }

  private async waitHeartbeating(done: Promise<void>, heartbeat: () => Promise<void>): Promise<void> {
    let settled = false;
    const finished = done.then(
      () => void (settled = true),
      () => void (settled = true),
    );
    let heartbeating = true;
    while (!settled) {
      await Promise.race([finished, sleep(this.opts.heartbeatEveryMs)]);
      if (settled || !heartbeating) continue;
      try {
        await heartbeat();
      } catch (err) {
        // A rebalance is under way: finish this batch, then kafkajs rejoins.
        heartbeating = false;
        this.logger.info({ err: (err as Error).message }, 'heartbeat refused while a batch is in flight');
      }
    }
    await done;
  }
}

function toRecord(topic: string, partition: number, m: KafkaMessage): SourceRecord {
  return { topic, partition, offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers: m.headers ?? {} };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
