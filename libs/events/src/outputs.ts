import { createHash } from 'node:crypto';
import type { DeadLetterCode, SourceRecord } from './input.js';
import type { SentimentEventV1 } from './sentiment-v1.js';

export type HeaderValue = Buffer | string | (Buffer | string)[];

/** A message ready for the producer, independent of the client library. */
export interface OutboundMessage {
  kind: 'event' | 'dead-letter';
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, HeaderValue>;
  /** An event's label, for metrics (not sent). */
  label?: string;
}

/** W3C trace context travels from input to output so traces span the scorer. */
const carriedHeaders = ['traceparent', 'tracestate'];

export function eventMessage(topic: string, record: SourceRecord, event: SentimentEventV1): OutboundMessage {
  const headers: OutboundMessage['headers'] = { 'content-type': 'application/json', 'x-schema': 'sentiment.v1' };
  for (const name of carriedHeaders) {
    const value = record.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return { kind: 'event', topic, key: record.key, value: Buffer.from(JSON.stringify(event)), headers, label: event.label };
}

/** The original record, untouched, plus why it could not be scored and where it came from. */
export function deadLetterMessage(topic: string, record: SourceRecord, code: DeadLetterCode, reason: string): OutboundMessage {
  const headers: OutboundMessage['headers'] = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (value !== undefined) headers[name] = value;
  }
  Object.assign(headers, {
    'x-error-code': code,
    'x-error-message': reason,
    'x-source-topic': record.topic,
    'x-source-partition': String(record.partition),
    'x-source-offset': record.offset,
  });
  return { kind: 'dead-letter', topic, key: record.key, value: record.value, headers };
}

/**
 * Bytes a message takes in a record batch, counted generously (Kafka's varint framing is smaller):
 * key, value, header names and values, and 64 bytes of record overhead.
 */
export function messageBytes(m: Pick<OutboundMessage, 'key' | 'value' | 'headers'>): number {
  let n = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [name, value] of Object.entries(m.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) n += Buffer.byteLength(name) + (typeof v === 'string' ? Buffer.byteLength(v) : v.length) + 8;
  }
  return n;
}

export interface FitOptions {
  /** The most bytes a message may take (the destination topic's max.message.bytes less batch overhead). */
  maxBytes: number;
  /** Where a dead letter goes when an event does not fit. */
  dlqTopic: string;
  /** Bytes of the original value a shrunk dead letter keeps (DLQ_VALUE_PREFIX_BYTES). */
  prefixBytes: number;
}

/**
 * Makes `message` fit `maxBytes`, so the broker never refuses an output for its size:
 * - a message that fits is returned as it is;
 * - an event that does not (a huge key or id) becomes a dead letter, `OUTPUT_TOO_LARGE`, itself fitted;
 * - a dead letter that does not keeps its key and headers and a bounded value: the first
 *   `prefixBytes` of the original value, with `x-original-size` and `x-original-sha256` saying what
 *   was cut, so the whole input can still be found (by its source coordinates) and checked;
 * - if the key and headers alone are too large, the original headers go (ours stay), then the key.
 */
export function fitMessage(message: OutboundMessage, record: SourceRecord, o: FitOptions): OutboundMessage {
  if (messageBytes(message) <= o.maxBytes) return message;
  if (message.kind === 'event') {
    const why = `the event is ${messageBytes(message)} bytes, over the ${o.maxBytes} the output topic accepts (a very large key)`;
    return fitMessage(deadLetterMessage(o.dlqTopic, record, 'OUTPUT_TOO_LARGE', why), record, o);
  }
  const original = message.value ?? Buffer.alloc(0);
  const cut: OutboundMessage = {
    ...message,
    value: message.value === null ? null : original.subarray(0, o.prefixBytes),
    headers: {
      ...message.headers,
      'x-value-truncated': 'true',
      'x-original-size': String(original.length),
      'x-original-sha256': createHash('sha256').update(original).digest('hex'),
    },
  };
  if (messageBytes(cut) <= o.maxBytes) return cut;
  const ours = Object.fromEntries(Object.entries(cut.headers).filter(([name]) => name.startsWith('x-')));
  const fewer: OutboundMessage = { ...cut, headers: { ...ours, 'x-headers-dropped': 'true' } };
  if (messageBytes(fewer) <= o.maxBytes) return fewer;
  return { ...fewer, key: null, headers: { ...fewer.headers, 'x-key-dropped': 'true' } };
}
