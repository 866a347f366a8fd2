import type { OutboundMessage, Scored, SourceRecord } from '@sentiment-stream/events';
import { describe, expect, it } from 'vitest';
import { Pipeline, PipelineFailedError, type PipelineObserver } from './pipeline.js';
import type { Predictor, PredictorHealth } from './predictor.js';

/** A model that scores "good" texts positive and fails as told; every call is recorded. */
class FakeModel implements Predictor {
  readonly info = { name: 'fake', version: '1', provider: 'cpu', labels: ['negative', 'positive'] as const };
  calls: string[][] = [];
  state: PredictorHealth['state'] = 'ok';
  /** Returns an error to reject this call with, or undefined to answer it. */
  fail: (texts: readonly string[]) => Error | undefined = () => undefined;
  /** Resolves each call only when released (for ordering tests). */
  gate: Promise<void> | undefined;

  async predict(texts: readonly string[]) {
    this.calls.push([...texts]);
    if (this.gate) await this.gate;
    const err = this.fail(texts);
    if (err) throw err;
    const predictions: Scored[] = texts.map((t) => {
      const p = t.includes('good') ? 0.9 : 0.1;
      return { label: p > 0.5 ? 'positive' : 'negative', score: Math.max(p, 1 - p), probabilities: { negative: 1 - p, positive: p } };
    });
    return { predictions, timings: { tokenizeMs: 1, inferenceMs: 2 } };
  }

  health(): PredictorHealth {
    return { state: this.state, restarts: 0, consecutiveFailures: 0, lastError: null };
  }
}

const workerDied = () => Object.assign(new Error('worker exited (code 1)'), { retriable: true });
const modelError = (text: string) => Object.assign(new Error(`cannot score "${text}"`), { retriable: false });

let offset = 0;
function rec(text: string | null, partition = 0): SourceRecord {
  return {
    topic: 'in',
    partition,
    offset: String(offset++),
    timestamp: '1700000000000',
    key: null,
    value: text === null ? null : Buffer.from(JSON.stringify({ id: text || `blank-${offset}`, text })),
    headers: {},
  };
}

function pipeline(model: FakeModel, observer: PipelineObserver = {}, maxSize = 4) {
  const logs: string[] = [];
  const logger = { warn: (_o: object, m?: string) => logs.push(`warn ${m}`), error: (_o: object, m?: string) => logs.push(`error ${m}`) };
  const p = new Pipeline(
    model,
    {
      outputTopic: 'out',
      dlqTopic: 'dlq',
      decode: { format: 'json', textField: 'text', idField: 'id', maxTextBytes: 1_000 },
      batch: { maxSize, maxWaitMs: 0 },
      retryBackoff: { initialMs: 1, maxMs: 2 },
    },
    logger,
    observer,
    () => 1700000000500,
  );
  return { p, logs };
}

const summary = (outs: OutboundMessage[]) =>
  outs.map((m) => (m.kind === 'event' ? `${m.label}` : `dlq:${m.headers['x-error-code']}`));

describe('Pipeline', () => {
  it('answers every record with one output, in order: events and dead letters interleaved as the input', async () => {
    const model = new FakeModel();
    const { p } = pipeline(model);
    const outs = await p.process([rec('good film'), rec(null), rec('bad film'), rec('')]);
    expect(summary(outs)).toEqual(['positive', 'dlq:NULL_VALUE', 'negative', 'dlq:EMPTY_TEXT']);
    const event = JSON.parse(outs[0]!.value!.toString());
    expect(event).toMatchObject({ schema: 'sentiment.v1', id: 'good film', label: 'positive', latencyMs: 500, model: { name: 'fake' } });
    expect(model.calls).toEqual([['good film', 'bad film']]);
  });

  it('batches across callers (partitions) and resolves each caller with its own outputs', async () => {
    const model = new FakeModel();
    let release!: () => void;
    model.gate = new Promise((r) => (release = r));
    const { p } = pipeline(model, {}, 3);
    const a = p.process([rec('good 1', 0), rec('bad 2', 0)]);
    const b = p.process([rec('good 3', 1), rec('bad 4', 1), rec('good 5', 1)]);
    release();
    expect(summary(await a)).toEqual(['positive', 'negative']);
    expect(summary(await b)).toEqual(['positive', 'negative', 'positive']);
    // One call at a time: the first cut took what was there; the rest queued behind it.
    expect(model.calls.flat()).toEqual(['good 1', 'bad 2', 'good 3', 'bad 4', 'good 5']);
    expect(model.calls[0]).toEqual(['good 1', 'bad 2']);
  });

  it('a batch the model fails on is split until only the text that fails alone is dead-lettered', async () => {
    const model = new FakeModel();
    model.fail = (texts) => (texts.includes('poison') ? modelError('poison') : undefined);
    const splits: number[] = [];
    const { p } = pipeline(model, { batchSplit: (n) => splits.push(n) }, 8);
    const outs = await p.process(['good a', 'bad b', 'poison', 'good c', 'bad d'].map((t) => rec(t)));
    expect(summary(outs)).toEqual(['positive', 'negative', 'dlq:INFERENCE_FAILED', 'positive', 'negative']);
    expect(outs[2]!.headers['x-error-message']).toContain('the model failed on this text');
    expect(splits).toEqual([5, 3]);
  });

  it('a batch whose worker died is scored again (split), not dead-lettered', async () => {
    const model = new FakeModel();
    let deaths = 1;
    model.fail = () => (deaths-- > 0 ? workerDied() : undefined);
    const retried: number[] = [];
    const { p } = pipeline(model, { batchRetried: (n) => retried.push(n) });
    const outs = await p.process(['good a', 'bad b', 'good c'].map((t) => rec(t)));
    expect(summary(outs)).toEqual(['positive', 'negative', 'positive']);
    expect(retried).toEqual([3]);
  });

  it('a batch queued behind the call a worker died on is scored again whole, not split', async () => {
    const model = new FakeModel();
    let deaths = 1;
    const queuedBehind = () => Object.assign(new Error('worker exited (code 1); queued'), { retriable: true, running: false });
    model.fail = () => (deaths-- > 0 ? queuedBehind() : undefined);
    const retried: number[] = [];
    const splits: number[] = [];
    const { p } = pipeline(model, { batchRetried: (n) => retried.push(n), batchSplit: (n) => splits.push(n) });
    const outs = await p.process(['good a', 'bad b', 'good c'].map((t) => rec(t)));
    expect(summary(outs)).toEqual(['positive', 'negative', 'positive']);
    expect(retried).toEqual([3]);
    expect(splits).toEqual([]);
    expect(model.calls).toEqual([['good a', 'bad b', 'good c'], ['good a', 'bad b', 'good c']]);
  });

  it('keeps a second full batch in flight while the first is scored, and each caller gets its outputs in order', async () => {
    const model = new FakeModel();
    let open!: () => void;
    model.gate = new Promise<void>((r) => (open = r));
    const { p } = pipeline(model, {}, 2);
    const first = p.process(['good a', 'bad b'].map((t) => rec(t, 0)));
    const second = p.process(['bad c', 'good d', 'good e'].map((t) => rec(t, 1)));
    await new Promise((r) => setImmediate(r));
    // Two calls in flight (the second tokenized ahead), the partial third waits for a free slot.
    expect(model.calls).toEqual([['good a', 'bad b'], ['bad c', 'good d']]);
    open();
    expect(summary(await first)).toEqual(['positive', 'negative']);
    expect(summary(await second)).toEqual(['negative', 'positive', 'positive']);
    expect(model.calls).toHaveLength(3);
  });

  it('a text that kills the worker every time is dead-lettered after three tries; its batch-mates are scored', async () => {
    const model = new FakeModel();
    model.fail = (texts) => (texts.includes('killer') ? workerDied() : undefined);
    const { p } = pipeline(model, {}, 4);
    const outs = await p.process(['good a', 'killer', 'bad c'].map((t) => rec(t)));
    expect(summary(outs)).toEqual(['positive', 'dlq:INFERENCE_FAILED', 'negative']);
    expect(outs[1]!.headers['x-error-message']).toContain('failed 3 times on this text alone');
    expect(model.calls.filter((c) => c.length === 1 && c[0] === 'killer')).toHaveLength(3);
  });

  it('a model that gave up fails every pending and later call, so their records are not committed', async () => {
    const model = new FakeModel();
    model.fail = () => {
      model.state = 'failed';
      return Object.assign(new Error('gave up'), { retriable: false });
    };
    const { p, logs } = pipeline(model);
    await expect(p.process([rec('good a')])).rejects.toBeInstanceOf(PipelineFailedError);
    await expect(p.process([rec('good b')])).rejects.toBeInstanceOf(PipelineFailedError);
    // Dead letters need no model, but after a failure nothing is accepted any more.
    await expect(p.process([rec(null)])).rejects.toBeInstanceOf(PipelineFailedError);
    expect(logs.some((l) => l.includes('failed for good'))).toBe(true);
  });

  it('an event that cannot be built becomes a dead letter instead of stopping the stream', async () => {
    const model = new FakeModel();
    // A probability the event's JSON cannot hold (BigInt does not serialise): a stand-in for any defect.
    model.predict = async (texts) => ({ predictions: texts.map(() => ({ label: 'positive', score: 0.9, probabilities: { positive: 10n as unknown as number } })), timings: { tokenizeMs: 0, inferenceMs: 0 } });
    const { p } = pipeline(model);
    const outs = await p.process([rec('good a')]);
    expect(summary(outs)).toEqual(['dlq:INTERNAL_ERROR']);
  });

  it('close() waits for what it took and then refuses more', async () => {
    const model = new FakeModel();
    let release!: () => void;
    model.gate = new Promise((r) => (release = r));
    const { p } = pipeline(model);
    const pending = p.process([rec('good a')]);
    let closed = false;
    const closing = p.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(summary(await pending)).toEqual(['positive']);
    await expect(p.process([rec('good b')])).rejects.toThrow('closed');
  });
});
