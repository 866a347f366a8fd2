// The batch spans through the real OpenTelemetry SDK, kept in memory instead of exported.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { deadLetterMessage, eventMessage, sentimentEvent, type OutboundMessage, type SourceRecord } from '@sentiment-stream/events';
import { describe, expect, it } from 'vitest';
import { noTracing, tracingSettings, type EnabledTracing } from './index.js';
import { startOtelTracing } from './otel.js';

const logger = { warn: () => undefined, debug: () => undefined };
const model = { name: 'sst2-bilstm', version: '2.0.0', provider: 'cpu' };
const scored = { label: 'positive', score: 0.9, probabilities: { negative: 0.1, positive: 0.9 } };

const tp = (trace: string, span: string) => `00-${trace.padStart(32, '0')}-${span.padStart(16, '0')}-01`;
function record(partition: number, offset: number, headers: SourceRecord['headers'] = {}, topic = 'reviews'): SourceRecord {
  return { topic, partition, offset: String(offset), timestamp: '1700000000000', key: Buffer.from(`k${offset}`), value: Buffer.from('{"text":"fine"}'), headers };
}
const outputsOf = (records: readonly SourceRecord[]): OutboundMessage[] =>
  records.map((r, i) => (i === 1 ? deadLetterMessage('dlq', r, 'EMPTY_TEXT', 'empty') : eventMessage('out', r, sentimentEvent(r, `id-${i}`, scored, model, 1700000000100))));

function traced(env: Record<string, string> = {}) {
  const settings = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', ...env }) as EnabledTracing;
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor({ exporter });
  const tracing = startOtelTracing(settings, { consumerGroup: 'scorers', model, serviceName: 'sentiment-stream-scorer', logger }, processor);
  // The host detector's attributes resolve asynchronously, so an ended span is exported a moment later.
  const spans = async () => {
    await processor.forceFlush();
    return exporter.getFinishedSpans();
  };
  const named = async (prefix: string): Promise<ReadableSpan> => {
    const found = (await spans()).filter((s) => s.name.split(' ')[0] === prefix);
    expect(found, prefix).toHaveLength(1);
    return found[0]!;
  };
  return { tracing, spans, named };
}

/** Runs one batch as the scorer does: score, then publish through `send`; returns what was sent. */
async function runBatch(tracing: ReturnType<typeof traced>['tracing'], records: SourceRecord[]): Promise<OutboundMessage[]> {
  const trace = tracing.batch(records);
  const outputs = await trace.score(async () => outputsOf(records));
  let sent: OutboundMessage[] = [];
  await trace.publish(outputs, async (o) => {
    sent = o;
  });
  return sent;
}

describe('batch spans', () => {
  const a = tp('a1', 'a2');
  const b = tp('b1', 'b2');
  const records = [
    record(0, 10, { traceparent: a }),
    record(0, 11, { traceparent: Buffer.from(b) }),
    record(1, 7, { traceparent: a }),
    record(1, 8),
    record(1, 9, { traceparent: 'not-a-traceparent' }),
  ];

  it('process (CONSUMER, a root) with score (INTERNAL) and send (PRODUCER) as its children, one trace', async () => {
    const { tracing, named, spans } = traced();
    await runBatch(tracing, records);
    expect(await spans()).toHaveLength(3);
    const process = await named('process');
    const score = await named('score');
    const send = await named('send');
    expect(process.name).toBe('process reviews');
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.parentSpanContext).toBeUndefined();
    expect(score.kind).toBe(SpanKind.INTERNAL);
    expect(send.kind).toBe(SpanKind.PRODUCER);
    for (const child of [score, send]) {
      expect(child.parentSpanContext?.spanId).toBe(process.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(process.spanContext().traceId);
    }
    // Spans are exported as they end: the process span ends once the outputs are published.
    expect((await spans()).map((s) => s.name)).toEqual(['score', 'send', 'process reviews']);
  });

  it('carries the messaging attributes', async () => {
    const { tracing, named } = traced();
    await runBatch(tracing, records);
    expect((await named('process')).attributes).toEqual({
      'messaging.system': 'kafka',
      'messaging.system.name': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.consumer.group.name': 'scorers',
      'messaging.batch.message_count': 5,
      'messaging.destination.name': 'reviews',
    });
    expect((await named('score')).attributes).toEqual({
      'sentiment_stream.model.name': 'sst2-bilstm',
      'sentiment_stream.model.version': '2.0.0',
      'sentiment_stream.model.provider': 'cpu',
      'sentiment_stream.events': 4,
      'sentiment_stream.dead_letters': 1,
    });
    // Events to one topic, a dead letter to another: no single destination to name.
    expect((await named('send')).name).toBe('send');
    expect((await named('send')).attributes).toEqual({
      'messaging.system': 'kafka',
      'messaging.system.name': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.batch.message_count': 5,
      'sentiment_stream.dead_letters': 1,
    });
  });

  it('names the partition when the batch has one, and the destination of a send to one topic', async () => {
    const { tracing, named } = traced();
    const one = [record(3, 1), record(3, 2)];
    const trace = tracing.batch(one);
    const outputs = await trace.score(async () => one.map((r) => eventMessage('out', r, sentimentEvent(r, 'x', scored, model, 1700000000100))));
    await trace.publish(outputs, async () => undefined);
    expect((await named('process')).attributes['messaging.destination.partition.id']).toBe('3');
    expect((await named('send')).name).toBe('send out');
    expect((await named('send')).attributes['messaging.destination.name']).toBe('out');
  });

  it('links once to each distinct producer context, in record order, naming the record that carried it', async () => {
    const { tracing, named } = traced();
    await runBatch(tracing, records);
    const links = (await named('process')).links;
    expect(links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([
      ['a1'.padStart(32, '0'), 'a2'.padStart(16, '0')],
      ['b1'.padStart(32, '0'), 'b2'.padStart(16, '0')],
    ]);
    expect(links[0]!.attributes).toEqual({ 'messaging.destination.name': 'reviews', 'messaging.destination.partition.id': '0', 'kafka.offset': 10, 'messaging.batch.message_count': 2 });
    expect(links[1]!.attributes).toEqual({ 'messaging.destination.name': 'reviews', 'messaging.destination.partition.id': '0', 'kafka.offset': 11 });
    expect((await named('process')).droppedLinksCount).toBe(0);
  });

  it('keeps at most OTEL_SPAN_LINK_COUNT_LIMIT links and counts the rest as dropped', async () => {
    const { tracing, named } = traced({ OTEL_SPAN_LINK_COUNT_LIMIT: '3' });
    const many = Array.from({ length: 10 }, (_, i) => record(0, i, { traceparent: tp(`c${i}`, `d${i}`) }));
    await runBatch(tracing, many);
    expect((await named('process')).links).toHaveLength(3);
    expect((await named('process')).droppedLinksCount).toBe(7);
  });

  it("puts the send span's context in every output's traceparent; a dead letter keeps its input's aside", async () => {
    const { tracing, named } = traced();
    const sent = await runBatch(tracing, records);
    const send = (await named('send')).spanContext();
    const ours = `00-${send.traceId}-${send.spanId}-01`;
    expect(sent.map((m) => m.headers.traceparent)).toEqual(records.map(() => ours));
    expect(sent[1]!.kind).toBe('dead-letter');
    expect(sent[1]!.headers['x-source-traceparent']).toEqual(Buffer.from(b));
    expect(sent[0]!.headers['x-source-traceparent']).toBeUndefined();
  });

  it('leaves the outputs as they are when the sampler drops the batch, and records nothing', async () => {
    const { tracing, spans } = traced({ OTEL_TRACES_SAMPLER: 'always_off' });
    const trace = tracing.batch(records);
    const outputs = await trace.score(async () => outputsOf(records));
    let sent: OutboundMessage[] = [];
    await trace.publish(outputs, async (o) => {
      sent = o;
    });
    expect(await spans()).toHaveLength(0);
    expect(sent).toBe(outputs);
    expect(sent.map((m) => m.headers.traceparent)).toEqual(records.map((r) => r.headers.traceparent));
  });

  it('marks score and process failed when scoring fails, and ends them once', async () => {
    const { tracing, named, spans } = traced();
    const trace = tracing.batch(records);
    const err = Object.assign(new Error('the model cannot score any more'), { name: 'PipelineFailedError' });
    await expect(trace.score(async () => Promise.reject(err))).rejects.toBe(err);
    trace.fail(err);
    trace.fail(err);
    expect(await spans()).toHaveLength(2);
    for (const s of [await named('score'), await named('process')]) {
      expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'the model cannot score any more' });
      expect(s.attributes['error.type']).toBe('PipelineFailedError');
      expect(s.events.map((e) => e.name)).toEqual(['exception']);
    }
  });

  it('marks send and process failed when publishing throws', async () => {
    const { tracing, named } = traced();
    const trace = tracing.batch(records);
    const outputs = await trace.score(async () => outputsOf(records));
    await expect(trace.publish(outputs, async () => Promise.reject(new TypeError('producer gone')))).rejects.toThrow('producer gone');
    expect((await named('send')).status.code).toBe(SpanStatusCode.ERROR);
    expect((await named('process')).attributes['error.type']).toBe('TypeError');
  });

  it('names the service from OTEL_SERVICE_NAME over its default', async () => {
    const before = process.env.OTEL_SERVICE_NAME;
    process.env.OTEL_SERVICE_NAME = 'scorer-eu-1';
    try {
      const { tracing, named } = traced();
      await runBatch(tracing, [record(0, 1)]);
      expect((await named('process')).resource.attributes['service.name']).toBe('scorer-eu-1');
    } finally {
      if (before === undefined) delete process.env.OTEL_SERVICE_NAME;
      else process.env.OTEL_SERVICE_NAME = before;
    }
    const { tracing, named } = traced();
    await runBatch(tracing, [record(0, 1)]);
    expect((await named('process')).resource.attributes['service.name']).toBe('sentiment-stream-scorer');
  });
});

describe('stopping', () => {
  const settings = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }) as EnabledTracing;
  /** An exporter that keeps what it is given, or never answers (a collector that hangs). */
  const exporter = (hang: boolean) => {
    const got: ReadableSpan[] = [];
    const e: SpanExporter = {
      export(spans, done: (r: ExportResult) => void) {
        if (hang) return;
        got.push(...spans);
        done({ code: ExportResultCode.SUCCESS });
      },
      shutdown: async () => undefined,
    };
    return { e, got };
  };

  it('exports the spans still buffered', async () => {
    const { e, got } = exporter(false);
    // A batch processor that would not export for a minute on its own.
    const tracing = startOtelTracing(settings, { consumerGroup: 'g', model, serviceName: 's', logger }, new BatchSpanProcessor({ exporter: e, scheduledDelayMillis: 60_000 }));
    await runBatch(tracing, [record(0, 1)]);
    expect(got).toHaveLength(0);
    await tracing.shutdown(5_000);
    expect(got.map((s) => s.name).sort()).toEqual(['process reviews', 'score', 'send out']);
    await tracing.shutdown(5_000);
  });

  it('gives up after its timeout when the collector does not answer, and says so', async () => {
    const { e } = exporter(true);
    const warnings: string[] = [];
    const log = { warn: (_o: object, m?: string) => void warnings.push(m ?? ''), debug: () => undefined };
    const tracing = startOtelTracing(settings, { consumerGroup: 'g', model, serviceName: 's', logger: log }, new BatchSpanProcessor({ exporter: e, scheduledDelayMillis: 60_000 }));
    await runBatch(tracing, [record(0, 1)]);
    await tracing.shutdown(200);
    expect(warnings).toContain('tracing: spans not all exported before the stop deadline; the rest are dropped');
  });
});

describe('tracing off', () => {
  it('runs the work and sends the outputs untouched', async () => {
    const records = [record(0, 1, { traceparent: tp('e1', 'e2') })];
    const trace = noTracing.batch(records);
    const outputs = await trace.score(async () => outputsOf(records));
    let sent: OutboundMessage[] = [];
    await trace.publish(outputs, async (o) => {
      sent = o;
    });
    expect(sent).toBe(outputs);
    expect(sent[0]!.headers.traceparent).toBe(tp('e1', 'e2'));
  });
});
