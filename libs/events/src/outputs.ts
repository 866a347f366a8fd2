import { createHash } from 'node:crypto';
import { cloudEventHeaderNames, cloudEventHeaders } from './cloudevents.js';
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

/** W3C trace context: an event carries the input's unless the scorer traces and puts its own (withTraceContext). */
const traceHeaders = ['traceparent', 'tracestate'] as const;

export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

/**
 * The headers the scorer itself sets (and bounds). When a dead letter's key and headers alone are
 * too large, fitMessage keeps these and drops the input's; a name test such as "starts with x-"
 * would keep an input's own huge `x-...` header and the message would still not fit.
 */
const ownHeaders: ReadonlySet<string> = new Set([
  'content-type',
  ...cloudEventHeaderNames,
  'x-schema',
  'x-error-code',
  'x-error-message',
  'x-source-topic',
  'x-source-partition',
  'x-source-offset',
  'x-source-last-offset',
  'x-value-truncated',
  'x-original-size',
  'x-original-sha256',
]);

/** A W3C traceparent of version 00 is 55 characters: kept when headers must go, it costs little and links the dead letter to its trace. */
function isTraceparent(value: HeaderValue): boolean {
  return typeof value === 'string' && value.length === 55;
}

/** What a dead letter's data is: the bytes the scorer could not read, whatever the input claimed. */
const DEAD_LETTER_CONTENT_TYPE = 'application/octet-stream';

export function eventMessage(topic: string, record: SourceRecord, event: SentimentEventV1): OutboundMessage {
  const headers: OutboundMessage['headers'] = {
    'content-type': 'application/json',
    ...cloudEventHeaders('event', record, event.scoredAt, event.id),
    // Kept beside ce_type for one version, for readers written against it (docs/events.md).
    'x-schema': 'sentiment.v1',
  };
  for (const name of traceHeaders) {
    const value = record.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return { kind: 'event', topic, key: record.key, value: Buffer.from(JSON.stringify(event)), headers, label: event.label };
}

/**
 * An input header a dead letter cannot keep under its own name, because the dead letter is itself a
 * CloudEvent: its `content-type` and any `ce_*` (a CloudEvents reader would take an input's
 * `ce_foo` for an attribute of the dead letter, or an input's structured-mode content type for the
 * dead letter's mode). Kafka header names are case-sensitive; CloudEvents readers lower-case them.
 */
function movedAside(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === 'content-type' || lower.startsWith('ce_');
}

/**
 * The original record, untouched, plus why it could not be scored and where it came from. The
 * input's headers are kept, except those in the way of the dead letter's own CloudEvents headers,
 * which are kept as `x-source-<name>`.
 */
export function deadLetterMessage(topic: string, record: SourceRecord, code: DeadLetterCode, reason: string, now: number = Date.now()): OutboundMessage {
  const headers: OutboundMessage['headers'] = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (value !== undefined) headers[movedAside(name) ? `x-source-${name}` : name] = value;
  }
  Object.assign(headers, {
    // A tombstone's dead letter has no data, so no data content type (the binding: no value, no data).
    ...(record.value !== null ? { 'content-type': DEAD_LETTER_CONTENT_TYPE } : {}),
    ...cloudEventHeaders('dead-letter', record, new Date(now).toISOString()),
    'x-error-code': code,
    'x-error-message': reason,
    'x-source-topic': record.topic,
    'x-source-partition': String(record.partition),
    'x-source-offset': record.offset,
  });
  return { kind: 'dead-letter', topic, key: record.key, value: record.value, headers };
}

/**
 * `message` carrying `context` (the scorer's own span, when it traces) as its W3C trace context.
 * An event's input context is replaced (the scorer's span links to it); a dead letter keeps its
 * input's as `x-source-traceparent` / `x-source-tracestate`, since it is the input record.
 */
export function withTraceContext(message: OutboundMessage, context: TraceHeaders): OutboundMessage {
  const headers = { ...message.headers };
  for (const name of traceHeaders) {
    const value = headers[name];
    if (value === undefined) continue;
    if (message.kind === 'dead-letter') headers[`x-source-${name}`] = value;
    delete headers[name];
  }
  headers.traceparent = context.traceparent;
  if (context.tracestate) headers.tracestate = context.tracestate;
  return { ...message, headers };
}

/**
 * The record of records that were skipped because their batch cannot be decoded (no value: there is
 * nothing readable to keep): which partition, which offsets (first and last, both included), and
 * what the decoder said.
 */
export function skippedRecordsMessage(
  topic: string,
  skipped: { topic: string; partition: number; from: bigint; to: bigint; reason: string },
  now: number = Date.now(),
): OutboundMessage {
  return {
    kind: 'dead-letter',
    topic,
    key: null,
    value: null,
    headers: {
      // A CloudEvent like every dead letter, without data (so without content-type); its id is the first skipped offset's.
      ...cloudEventHeaders('dead-letter', { topic: skipped.topic, partition: skipped.partition, offset: String(skipped.from) }, new Date(now).toISOString()),
      'x-error-code': 'CORRUPT_BATCH',
      'x-error-message': `records ${skipped.from}-${skipped.to} cannot be decoded by any client and were skipped: ${skipped.reason}`.slice(0, 500),
      'x-source-topic': skipped.topic,
      'x-source-partition': String(skipped.partition),
      'x-source-offset': String(skipped.from),
      'x-source-last-offset': String(skipped.to),
    },
  };
}

/**
 * Bytes a message takes in a record batch, counted generously (Kafka's varint framing is smaller):
 * key, value, header names and values, and 64 bytes of record overhead.
 */
export function messageBytes(m: Pick<OutboundMessage, 'key' | 'value' | 'headers'>): number {
  // Written without Object.entries or arrays: it runs up to 3 times per output, and the allocating
  // version made 3.4 of the 21.8 KB the main thread allocated per message (docs/performance.md,
  // "What the main thread allocates").
  let n = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const name in m.headers) {
    const value = m.headers[name]!;
    if (!Array.isArray(value)) n += headerBytes(name, value);
    else for (const v of value) n += headerBytes(name, v);
  }
  return n;
}

function headerBytes(name: string, value: Buffer | string): number {
  return Buffer.byteLength(name) + (typeof value === 'string' ? Buffer.byteLength(value) : value.length) + 8;
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
 * - if the key and headers alone are too large, the original headers go (ours stay: the error, the
 *   source coordinates, content-type, the CloudEvents attributes and a well-formed traceparent),
 *   then the key.
 */
export function fitMessage(message: OutboundMessage, record: SourceRecord, o: FitOptions): OutboundMessage {
  if (messageBytes(message) <= o.maxBytes) return message;
  if (message.kind === 'event') {
    const why = `the event is ${messageBytes(message)} bytes, over the ${o.maxBytes} the output topic accepts (a very large key)`;
    const dead = deadLetterMessage(o.dlqTopic, record, 'OUTPUT_TOO_LARGE', why);
    // An event that carried the scorer's own trace context (not the input's) hands it on.
    const traceparent = message.headers.traceparent;
    const ours = typeof traceparent === 'string' && traceparent !== record.headers.traceparent;
    const tracestate = message.headers.tracestate;
    return fitMessage(ours ? withTraceContext(dead, { traceparent, ...(typeof tracestate === 'string' ? { tracestate } : {}) }) : dead, record, o);
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
  const ours = Object.fromEntries(Object.entries(cut.headers).filter(([name, value]) => ownHeaders.has(name) || (name === 'traceparent' && isTraceparent(value))));
  const fewer: OutboundMessage = { ...cut, headers: { ...ours, 'x-headers-dropped': 'true' } };
  if (messageBytes(fewer) <= o.maxBytes) return fewer;
  return { ...fewer, key: null, headers: { ...fewer.headers, 'x-key-dropped': 'true' } };
}
