// Spans for one input batch, after the OpenTelemetry messaging semantic conventions
// (opentelemetry.io/docs/specs/semconv/messaging/): docs/tracing.md shows the resulting trace.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { withTraceContext, type HeaderValue, type SourceRecord, type TraceHeaders } from '@sentiment-stream/events';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import {
  ATTR_KAFKA_OFFSET,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_PARTITION_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_MESSAGING_SYSTEM_NAME,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  MESSAGING_SYSTEM_VALUE_KAFKA,
} from '@opentelemetry/semantic-conventions/incubating';
import type { BatchTrace } from './types.js';

/** Our own attributes, in our namespace (the conventions have none for a model call). */
export const ATTR = {
  modelName: 'sentiment_stream.model.name',
  modelVersion: 'sentiment_stream.model.version',
  modelProvider: 'sentiment_stream.model.provider',
  events: 'sentiment_stream.events',
  deadLetters: 'sentiment_stream.dead_letters',
} as const;

export interface BatchTracerOptions {
  consumerGroup: string;
  model: { name: string; version: string; provider: string };
}

const propagator = new W3CTraceContextPropagator();

/** Reads a record's headers as the propagator wants them: strings (Kafka header values are bytes). */
const headerGetter: TextMapGetter<SourceRecord['headers']> = {
  keys: (headers) => Object.keys(headers),
  get(headers, key) {
    const value: HeaderValue | undefined = headers[key];
    if (value === undefined) return undefined;
    // A header sent twice arrives as a list; W3C trace context allows one traceparent, so take the first.
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : typeof first === 'string' ? first : first.toString('utf8');
  },
};

/**
 * The messaging system attributes. `messaging.system` is what the Kafka conventions require and what
 * backends group by; the newest conventions rename it `messaging.system.name`: both are set.
 */
const KAFKA: Attributes = { [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_KAFKA, [ATTR_MESSAGING_SYSTEM_NAME]: MESSAGING_SYSTEM_VALUE_KAFKA };

/** The one value every item has, or undefined when they differ (a destination set only when it applies to all). */
function common<T>(items: readonly T[], pick: (item: T) => string): string | undefined {
  const first = items[0] === undefined ? undefined : pick(items[0]);
  return items.every((i) => pick(i) === first) ? first : undefined;
}

/**
 * The producers' contexts of `records`, one link per distinct context (a producer that sent a
 * batch under one span gave every record the same context: one link says it), in record order.
 * Each link names the first record that carried it; `messaging.batch.message_count` on a link
 * says how many of the batch's records carried it, when more than one. The SDK keeps at most
 * OTEL_SPAN_LINK_COUNT_LIMIT links per span and counts the rest in the span's dropped_links_count.
 */
export function producerLinks(records: readonly SourceRecord[]): Link[] {
  const byContext = new Map<string, { context: SpanContext; record: SourceRecord; count: number }>();
  for (const record of records) {
    if (record.headers.traceparent === undefined) continue;
    const context = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, record.headers, headerGetter));
    if (context === undefined || !trace.isSpanContextValid(context)) continue;
    const key = `${context.traceId}-${context.spanId}`;
    const seen = byContext.get(key);
    if (seen) seen.count++;
    else byContext.set(key, { context, record, count: 1 });
  }
  return [...byContext.values()].map(({ context, record, count }) => ({
    context,
    attributes: {
      [ATTR_MESSAGING_DESTINATION_NAME]: record.topic,
      [ATTR_MESSAGING_DESTINATION_PARTITION_ID]: String(record.partition),
      [ATTR_KAFKA_OFFSET]: Number(record.offset),
      ...(count > 1 ? { [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: count } : {}),
    },
  }));
}

function failed(span: Span, err: Error): void {
  span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
  span.setAttribute(ATTR_ERROR_TYPE, err.name || 'Error');
}

/**
 * One input batch's spans:
 * - `process <topic>` (CONSUMER, the root of a new trace): the batch, from hand-over to the end of
 *   its publish, linked to each record's producer context (the conventions' batch receipt: a batch
 *   has many parents, so it has none and links to all);
 * - `score` (INTERNAL, child): decode, wait for the cross-partition inference batch, infer, encode;
 * - `send <topic>` (PRODUCER, child): publishing the outputs and committing their offsets (the
 *   transport's ack does both). Its context goes out in every output's traceparent: the creation
 *   context of what the scorer publishes, so a downstream consumer's link lands on a PRODUCER span.
 */
export function startBatchTrace(tracer: Tracer, o: BatchTracerOptions, records: readonly SourceRecord[]): BatchTrace {
  const topic = common(records, (r) => r.topic);
  const partition = topic === undefined ? undefined : common(records, (r) => String(r.partition));
  const process = tracer.startSpan(
    topic === undefined ? 'process' : `process ${topic}`,
    {
      kind: SpanKind.CONSUMER,
      root: true,
      links: producerLinks(records),
      attributes: {
        ...KAFKA,
        [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
        [ATTR_MESSAGING_OPERATION_NAME]: 'process',
        [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: o.consumerGroup,
        [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: records.length,
        ...(topic !== undefined ? { [ATTR_MESSAGING_DESTINATION_NAME]: topic } : {}),
        ...(partition !== undefined ? { [ATTR_MESSAGING_DESTINATION_PARTITION_ID]: partition } : {}),
      },
    },
    ROOT_CONTEXT,
  );
  const inProcess = trace.setSpan(ROOT_CONTEXT, process);
  let ended = false;
  const end = (err?: Error) => {
    if (ended) return;
    ended = true;
    if (err) failed(process, err);
    process.end();
  };

  return {
    async score(work) {
      const span = tracer.startSpan(
        'score',
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            [ATTR.modelName]: o.model.name,
            [ATTR.modelVersion]: o.model.version,
            [ATTR.modelProvider]: o.model.provider,
          },
        },
        inProcess,
      );
      try {
        const outputs = await work();
        const deadLetters = outputs.filter((m) => m.kind === 'dead-letter').length;
        span.setAttributes({ [ATTR.events]: outputs.length - deadLetters, [ATTR.deadLetters]: deadLetters });
        return outputs;
      } catch (err) {
        failed(span, err as Error);
        throw err;
      } finally {
        span.end();
      }
    },

    async publish(outputs, send) {
      const destination = common(outputs, (m) => m.topic);
      const deadLetters = outputs.filter((m) => m.kind === 'dead-letter').length;
      const span = tracer.startSpan(
        destination === undefined ? 'send' : `send ${destination}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            ...KAFKA,
            [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
            [ATTR_MESSAGING_OPERATION_NAME]: 'send',
            [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: outputs.length,
            [ATTR.deadLetters]: deadLetters,
            ...(destination !== undefined ? { [ATTR_MESSAGING_DESTINATION_NAME]: destination } : {}),
          },
        },
        inProcess,
      );
      // A span the sampler dropped is recorded nowhere: its context would point readers at nothing,
      // so the outputs keep the input's context instead.
      let carried = outputs;
      if (span.isRecording()) {
        const headers: Record<string, string> = {};
        propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, { set: (carrier, key, value) => ((carrier as Record<string, string>)[key] = value) });
        const context: TraceHeaders = { traceparent: headers.traceparent!, ...(headers.tracestate ? { tracestate: headers.tracestate } : {}) };
        carried = outputs.map((m) => withTraceContext(m, context));
      }
      try {
        await send(carried);
      } catch (err) {
        failed(span, err as Error);
        span.end();
        end(err as Error);
        throw err;
      }
      span.end();
      end();
    },

    fail: (err) => end(err),
  };
}
