import {
  deadLetterMessage,
  decodeInput,
  eventMessage,
  sentimentEvent,
  type DeadLetterCode,
  type DecodeOptions,
  type OutboundMessage,
  type Scored,
  type SourceRecord,
} from '@sentiment-stream/events';
import type { Logger, OffsetTracker, Sink, SourceHandler, TopicPartitionOffset } from '@sentiment-stream/kafka';
import type { ScorerMetrics } from '@sentiment-stream/metrics';
import { Batcher, type BatcherOptions } from './batcher.js';
import type { Predictor } from './predictor.js';

export interface PipelineOptions {
  outputTopic: string;
  dlqTopic: string;
  decode: DecodeOptions;
  batch: BatcherOptions;
}

/** Settles one `handle` call once all of its records have their output on the broker. */
class Ticket {
  readonly done: Promise<void>;
  /** Set once the records will be delivered again; their outputs must not be published any more. */
  failed = false;
  private remaining: number;
  private resolve!: () => void;
  private reject!: (err: Error) => void;

  constructor(count: number) {
    this.remaining = count;
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  settle(count: number): void {
    this.remaining -= count;
    if (this.remaining === 0) this.resolve();
  }

  fail(err: Error): void {
    this.failed = true;
    this.reject(err);
  }
}

interface Item {
  record: SourceRecord;
  ticket: Ticket;
  /** Set for records that decode; a dead letter's reason otherwise. */
  text?: string;
  id?: string;
  failure?: { code: DeadLetterCode; reason: string };
  scored?: Scored;
}

/**
 * decode -> batch -> infer -> publish -> acknowledge. Inference runs one batch at a time (the model
 * owns the CPU or GPU) while the previous batch publishes, so the two overlap. Records keep their
 * input order through both stages, which keeps per-key order on the output topic.
 */
export class Pipeline implements SourceHandler {
  private readonly batcher: Batcher<Item>;
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly model: Predictor,
    private readonly sink: Sink,
    private readonly tracker: OffsetTracker,
    private readonly metrics: ScorerMetrics,
    private readonly opts: PipelineOptions,
    private readonly logger: Logger,
    private readonly hooks: { onJoin?: SourceHandler['onJoin'] } = {},
  ) {
    this.batcher = new Batcher(opts.batch, (items) => this.infer(items));
  }

  handle(records: SourceRecord[]): Promise<void> {
    const ticket = new Ticket(records.length);
    const items = records.map((record): Item => {
      this.tracker.track(record.topic, record.partition, record.offset);
      const decoded = decodeInput(record, this.opts.decode);
      return decoded.ok
        ? { record, ticket, text: decoded.text, id: decoded.id }
        : { record, ticket, failure: { code: decoded.code, reason: decoded.reason } };
    });
    if (records.length > 0) this.metrics.consumed.inc({ topic: records[0]!.topic }, records.length);
    this.metrics.inFlight.set(this.tracker.inFlight);
    this.batcher.add(items);
    return ticket.done;
  }

  committable(): TopicPartitionOffset[] {
    return this.tracker.takeCommittable();
  }

  abandon(topic: string, partition: number): void {
    this.tracker.forget(topic, partition);
  }

  onJoin: SourceHandler['onJoin'] = (assignment) => {
    this.metrics.rebalances.inc();
    this.hooks.onJoin?.(assignment);
  };

  onCommit(result: 'ok' | 'error'): void {
    this.metrics.commits.inc({ result });
  }

  private async infer(items: Item[]): Promise<void> {
    const scorable = items.filter((i) => i.text !== undefined);
    if (scorable.length > 0) {
      this.metrics.batchSize.observe(scorable.length);
      await this.score(scorable);
    }
    const messages = items.map((item) => this.output(item));
    this.publishing = this.publishing.then(() => this.publish(items, messages));
  }

  private async score(items: Item[]): Promise<void> {
    try {
      const { predictions, timings } = await this.model.predict(items.map((i) => i.text!));
      this.metrics.tokenizeSeconds.observe(timings.tokenizeMs / 1000);
      this.metrics.inferenceSeconds.observe(timings.inferenceMs / 1000);
      predictions.forEach((p, n) => (items[n]!.scored = p));
    } catch (err) {
      // One bad text must not stall the stream: find it by scoring the batch one text at a time.
      if (items.length === 1) {
        items[0]!.failure = { code: 'INFERENCE_FAILED', reason: `the model failed on this text: ${(err as Error).message}`.slice(0, 300) };
        return;
      }
      this.logger.warn({ err: (err as Error).message, batch: items.length }, 'batch inference failed; retrying its texts one by one');
      for (const item of items) await this.score([item]);
    }
  }

  private output(item: Item): OutboundMessage {
    if (item.scored) {
      const event = sentimentEvent(item.record, item.id!, item.scored, this.modelInfo(), Date.now());
      return eventMessage(this.opts.outputTopic, item.record, event);
    }
    const { code, reason } = item.failure!;
    return deadLetterMessage(this.opts.dlqTopic, item.record, code, reason);
  }

  private modelInfo() {
    const { name, version, provider } = this.model.info;
    return { name, version, provider };
  }

  private async publish(allItems: Item[], allMessages: OutboundMessage[]): Promise<void> {
    // A failed publish fails its records' whole partition batches, which are delivered again; later
    // batches already inferred may hold more records of those partition batches. Publishing their
    // outputs now would duplicate them when they come again, and with exactly-once would commit
    // outputs whose offsets are never committed (the partition is forgotten): drop them.
    const keep = allItems.map((item) => !item.ticket.failed);
    const items = allItems.filter((_, n) => keep[n]);
    const messages = allMessages.filter((_, n) => keep[n]);
    if (items.length === 0) return;
    let acked = false;
    // Exactly-once acknowledges inside the transaction so its offsets include this batch;
    // at-least-once only after the broker has the outputs.
    const acknowledge = () => {
      if (acked) return;
      acked = true;
      for (const { record } of items) this.tracker.ack(record.topic, record.partition, record.offset);
    };
    try {
      await this.sink.publish(messages, () => {
        acknowledge();
        return this.tracker.takeCommittable();
      });
    } catch (err) {
      this.logger.error({ err: (err as Error).message, batch: items.length }, 'publishing failed; the batch will be consumed again');
      for (const ticket of new Set(items.map((i) => i.ticket))) ticket.fail(err as Error);
      return;
    }
    acknowledge();
    this.record(items);
    const counts = new Map<Ticket, number>();
    for (const { ticket } of items) counts.set(ticket, (counts.get(ticket) ?? 0) + 1);
    for (const [ticket, n] of counts) ticket.settle(n);
  }

  private record(items: Item[]): void {
    const now = Date.now();
    for (const item of items) {
      if (item.scored) {
        this.metrics.produced.inc({ label: item.scored.label });
        this.metrics.endToEndSeconds.observe(Math.max(0, now - Number(item.record.timestamp)) / 1000);
      } else {
        this.metrics.deadLetters.inc({ code: item.failure!.code });
      }
    }
    this.metrics.inFlight.set(this.tracker.inFlight);
  }
}
