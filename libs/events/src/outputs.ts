import type { DeadLetterCode, SourceRecord } from './input.js';
import type { SentimentEventV1 } from './sentiment-v1.js';

/** A message ready for the producer, independent of the client library. */
export interface OutboundMessage {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | (Buffer | string)[]>;
}

/** W3C trace context travels from input to output so traces span the scorer. */
const carriedHeaders = ['traceparent', 'tracestate'];

export function eventMessage(topic: string, record: SourceRecord, event: SentimentEventV1): OutboundMessage {
  const headers: OutboundMessage['headers'] = { 'content-type': 'application/json', 'x-schema': 'sentiment.v1' };
  for (const name of carriedHeaders) {
    const value = record.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return { topic, key: record.key, value: Buffer.from(JSON.stringify(event)), headers };
}

/** The original record, untouched, plus why it could not be scored and where it came from. */
export function deadLetterMessage(
  topic: string,
  record: SourceRecord,
  code: DeadLetterCode,
  reason: string,
): OutboundMessage {
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
  return { topic, key: record.key, value: record.value, headers };
}
