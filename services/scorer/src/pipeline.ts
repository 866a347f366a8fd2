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
import { backoffDelay, sleep, type BackoffOptions } from '@sentiment-stream/runtime';
import { Batcher, type BatcherOptions } from './batcher.js';
import type { Predictor } from './predictor.js';

export interface PipelineOptions {
  outputTopic: string;
  dlqTopic: string;
  decode: DecodeOptions;
  batch: BatcherOptions;
  /** Backoff between retries of a batch whose model worker died or hung (it is replaced meanwhile). */
  retryBackoff?: BackoffOptions;
}

/** What the pipeline reports; every member optional (the scorer maps them to metrics). */
export interface PipelineObserver {
  batchScored?(size: number, timings: { tokenizeMs: number; inferenceMs: number }): void;
  /** A batch is scored again because its worker died or hung. */
  batchRetried?(size: number, reason: string): void;
  /** A failing batch was split to find the texts that fail alone. */
  batchSplit?(size: number): void;
}

export interface PipelineLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** The model has given up (or was closed): nothing more can be scored. */
export class PipelineFailedError extends Error {
  constructor(cause: unknown) {
    super(`the model cannot score any more: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'PipelineFailedError';
  }
}

interface Item {
  record: SourceRecord;
  id?: string;
  text?: string;
  failure?: { code: DeadLetterCode; reason: string };
  scored?: Scored;
  job: Job;
}

/** One process() call: resolves with its outputs once all of its items are scored. */
class Job {
  readonly done: Promise<OutboundMessage[]>;
  resolve!: (outputs: OutboundMessage[]) => void;
  reject!: (err: Error) => void;
  remaining: number;
  constructor(readonly items: Item[]) {
    this.remaining = 0;
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

const DEFAULT_RETRY: BackoffOptions = { initialMs: 200, maxMs: 5_000 };
/**
 * Model calls in flight at once: one in ONNX Runtime, the next one in the worker's tokenizer stage
 * (libs/model inference-worker.ts), so the model never waits for ids. Measured on 2 cores, batches of
 * 256: model-only 5,270-5,320 -> 6,539-6,810 texts/s, the scorer's drain +15 % (docs/performance.md).
 */
const MODEL_CALLS_IN_FLIGHT = 2;
/** Attempts at a single text whose worker died or hung, before it is dead-lettered (a worker killed by one text would otherwise stall its partition for ever). */
const SINGLE_TEXT_ATTEMPTS = 3;

/**
 * The scoring stage: records in, outputs out, nothing about Kafka. decode -> batch (across every
 * caller, so one model call serves many partitions) -> infer -> encode. One model call runs at a
 * time (the model owns the CPU or GPU) while the next full batch is tokenized; each process() call
 * gets its outputs in the order of its records.
 *
 * Failures:
 * - a text that cannot be decoded gets its dead letter at once;
 * - a batch that was only queued behind the call a worker died on is scored again whole;
 * - a batch whose worker died or hung (an error with `retriable`), or that the model itself failed
 *   on, is split in halves and scored again on the (replaced) worker until the texts that fail alone
 *   are found: only those become INFERENCE_FAILED, a worker death on one text after three tries;
 * - a model that has given up rejects every pending and later call (PipelineFailedError): the
 *   service leaves those records uncommitted and exits, and they are read again after the restart.
 */
export class Pipeline {
  private readonly batcher: Batcher<Item>;
  private failure: PipelineFailedError | undefined;
  private closing = false;
  private readonly modelInfo: { name: string; version: string; provider: string };

  constructor(
    private readonly model: Predictor,
    private readonly opts: PipelineOptions,
    private readonly logger: PipelineLogger,
    private readonly observer: PipelineObserver = {},
    private readonly now: () => number = Date.now,
  ) {
    this.batcher = new Batcher({ concurrency: MODEL_CALLS_IN_FLIGHT, ...opts.batch }, (items) => this.infer(items), (err, items) => this.crashed(err, items));
    const { name, version, provider } = model.info;
    this.modelInfo = { name, version, provider };
  }

  /** The items waiting for their batch. */
  get queued(): number {
    return this.batcher.queued;
  }

  /** One output per record, in order. Rejects only when the model has failed for good, or after close(). */
  process(records: readonly SourceRecord[]): Promise<OutboundMessage[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error('the pipeline is closed'));
    const job = new Job([]);
    const scorable: Item[] = [];
    for (const record of records) {
      const decoded = decodeInput(record, this.opts.decode);
      const item: Item = decoded.ok ? { record, id: decoded.id, text: decoded.text, job } : { record, failure: { code: decoded.code, reason: decoded.reason }, job };
      job.items.push(item);
      if (decoded.ok) scorable.push(item);
    }
    job.remaining = scorable.length;
    if (scorable.length === 0) job.resolve(this.outputs(job));
    else this.batcher.add(scorable);
    return job.done;
  }

  /** Stops taking records; resolves once everything taken has its outputs (or has failed). */
  async close(): Promise<void> {
    this.closing = true;
    await this.batcher.idle();
  }

  private async infer(items: Item[]): Promise<void> {
    if (this.failure) return this.failJobs(items, this.failure);
    try {
      await this.score(items);
    } catch (err) {
      this.failure = err instanceof PipelineFailedError ? err : new PipelineFailedError(err);
      this.logger.error({ err: this.failure.message }, 'the model failed for good; the records in flight are left to be delivered again');
      return this.failJobs(items, this.failure);
    }
    const finished = new Set<Job>();
    for (const item of items) {
      if (--item.job.remaining === 0) finished.add(item.job);
    }
    for (const job of finished) job.resolve(this.outputs(job));
  }

  /**
   * Scores `items` in place: each ends with `scored` or a `failure`. Throws PipelineFailedError only.
   * A failing batch is split in halves at once, whatever the failure: a text that kills the worker
   * is then found in about log2(batch) + 1 worker restarts (9 for 256), within the model's limit of
   * failures in a row, and a worker that died for another reason costs one extra call. A text the
   * worker died on alone is tried SINGLE_TEXT_ATTEMPTS times before it is dead-lettered.
   */
  private async score(items: Item[], attempt = 1): Promise<void> {
    try {
      const { predictions, timings } = await this.model.predict(items.map((i) => i.text!));
      this.observer.batchScored?.(items.length, timings);
      predictions.forEach((p, n) => (items[n]!.scored = p));
      return;
    } catch (err) {
      if (this.gaveUp()) throw new PipelineFailedError(err);
      const workerFailed = (err as { retriable?: boolean }).retriable === true;
      const message = (err as Error).message;
      if (workerFailed && (err as { running?: boolean }).running === false) {
        // Queued behind the call the worker died on: not a suspect, sent again whole (the model
        // gives up by itself after too many failures in a row, so this cannot loop for ever).
        this.observer.batchRetried?.(items.length, message);
        return this.score(items, attempt);
      }
      if (items.length === 1) {
        if (workerFailed && attempt < SINGLE_TEXT_ATTEMPTS) {
          this.observer.batchRetried?.(1, message);
          await sleep(backoffDelay(attempt, this.opts.retryBackoff ?? DEFAULT_RETRY));
          return this.score(items, attempt + 1);
        }
        const why = workerFailed ? `the model worker failed ${SINGLE_TEXT_ATTEMPTS} times on this text alone: ${message}` : `the model failed on this text: ${message}`;
        items[0]!.failure = { code: 'INFERENCE_FAILED', reason: why.slice(0, 300) };
        return;
      }
      if (workerFailed) this.observer.batchRetried?.(items.length, message);
      this.observer.batchSplit?.(items.length);
      this.logger.warn({ err: message, batch: items.length, workerFailed }, 'batch inference failed; scoring its halves apart');
      const half = Math.ceil(items.length / 2);
      await this.score(items.slice(0, half));
      await this.score(items.slice(half));
    }
  }

  private gaveUp(): boolean {
    const state = this.model.health?.().state;
    return state === 'failed' || state === 'closed';
  }

  private outputs(job: Job): OutboundMessage[] {
    const now = this.now();
    return job.items.map((item) => {
      if (item.scored) {
        try {
          return eventMessage(this.opts.outputTopic, item.record, sentimentEvent(item.record, item.id!, item.scored, this.modelInfo, now));
        } catch (err) {
          // No record may stop the stream: one the event cannot be built for goes to the DLQ, with why.
          this.logger.error({ err: (err as Error).message, topic: item.record.topic, partition: item.record.partition, offset: item.record.offset }, 'could not build the event; dead-lettering the record');
          return deadLetterMessage(this.opts.dlqTopic, item.record, 'INTERNAL_ERROR', `the event could not be built: ${(err as Error).message}`.slice(0, 300));
        }
      }
      const { code, reason } = item.failure!;
      return deadLetterMessage(this.opts.dlqTopic, item.record, code, reason);
    });
  }

  private failJobs(items: Item[], err: Error): void {
    for (const job of new Set(items.map((i) => i.job))) job.reject(err);
  }

  /** A throw the stage did not expect (a bug): the records of that batch fail, the stage goes on. */
  private crashed(err: unknown, items: Item[]): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.logger.error({ err: error.message, stack: error.stack, batch: items.length }, 'unexpected failure while scoring a batch; its records are left to be delivered again');
    this.failJobs(items, error);
  }
}
