import { createHash } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { deadLetterMessage, eventMessage, fitMessage, messageBytes, sentimentEvent, sentimentV1Schema, withTraceContext, type SourceRecord } from './index.js';

const record: SourceRecord = {
  topic: 'reviews',
  partition: 2,
  offset: '1234567890123',
  timestamp: '1700000000000',
  key: Buffer.from('user-9'),
  value: Buffer.from('{"text":"lovely"}'),
  headers: { traceparent: '00-abc-def-01', other: 'kept-in-dlq-only' },
};
const scored = { label: 'positive', score: 0.9, probabilities: { negative: 0.1, positive: 0.9 } };
const model = { name: 'sst2-bilstm', version: '1.0.0', provider: 'cpu' };

describe('sentiment.v1 events', () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  const validate = ajv.compile(sentimentV1Schema);

  it('builds an event that satisfies its JSON Schema', () => {
    const event = sentimentEvent(record, 'r1', scored, model, 1700000000250);
    expect(validate(event)).toBe(true);
    expect(event).toMatchObject({ id: 'r1', latencyMs: 250, source: { offset: '1234567890123', timestamp: '2023-11-14T22:13:20.000Z' } });
  });

  it('rejects an event that breaks the schema', () => {
    const event = { ...sentimentEvent(record, 'r1', scored, model, 1700000000250), extra: 1 };
    expect(validate(event)).toBe(false);
  });

  it('never reports a negative latency when the producer clock runs ahead', () => {
    expect(sentimentEvent(record, 'r1', scored, model, 1699999999000).latencyMs).toBe(0);
  });

  it('keys the output by the input key and carries traceparent only', () => {
    const msg = eventMessage('out', record, sentimentEvent(record, 'r1', scored, model, 1700000000250));
    expect(msg.key?.toString()).toBe('user-9');
    expect(msg.headers.traceparent).toBe('00-abc-def-01');
    expect(msg.headers.other).toBeUndefined();
    expect(JSON.parse(msg.value!.toString()).schema).toBe('sentiment.v1');
  });
});

describe('dead letters', () => {
  it('keep the original key, value and headers and say why and where from', () => {
    const msg = deadLetterMessage('dlq', record, 'TEXT_NOT_STRING', '"text" must be a string');
    expect(msg.key).toBe(record.key);
    expect(msg.value).toBe(record.value);
    expect(msg.headers).toMatchObject({
      other: 'kept-in-dlq-only',
      traceparent: '00-abc-def-01',
      'x-error-code': 'TEXT_NOT_STRING',
      'x-error-message': '"text" must be a string',
      'x-source-topic': 'reviews',
      'x-source-partition': '2',
      'x-source-offset': '1234567890123',
    });
  });

  it('keep a null value null', () => {
    expect(deadLetterMessage('dlq', { ...record, value: null }, 'NULL_VALUE', 'tombstone').value).toBeNull();
  });

  it("move the input's content-type and ce_* headers aside, as x-source-<name>, for their own", () => {
    const cloudEvent = { ...record, headers: { ...record.headers, 'Content-Type': 'application/cloudevents+json', ce_id: 'upstream-1', ce_myext: 'v' } };
    const msg = deadLetterMessage('dlq', cloudEvent, 'INVALID_JSON', 'x', Date.parse('2026-01-02T03:04:05.000Z'));
    expect(msg.headers).toMatchObject({
      'content-type': 'application/octet-stream',
      ce_id: 'reviews-2-1234567890123-dlq',
      ce_time: '2026-01-02T03:04:05.000Z',
      'x-source-Content-Type': 'application/cloudevents+json',
      'x-source-ce_id': 'upstream-1',
      'x-source-ce_myext': 'v',
    });
    expect(msg.headers['Content-Type']).toBeUndefined();
    expect(msg.headers.ce_myext).toBeUndefined();
  });
});

describe('messageBytes', () => {
  it('counts key, value, every header name and value (repeated values each with their name), and 64 bytes of framing', () => {
    const m = {
      key: Buffer.from('k1'),
      value: Buffer.from('value'),
      // 'é' is 2 bytes in UTF-8: counted as bytes, not characters.
      headers: { a: 'xé', bb: Buffer.from('yyy'), c: ['1', Buffer.from('22')], empty: [] },
    };
    expect(messageBytes(m)).toBe(64 + 2 + 5 + (1 + 3 + 8) + (2 + 3 + 8) + (1 + 1 + 8) + (1 + 2 + 8));
    expect(messageBytes({ key: null, value: null, headers: {} })).toBe(64);
  });
});

describe("the scorer's own trace context", () => {
  const ours = { traceparent: '00-11111111111111111111111111111111-2222222222222222-01' };

  it("replaces an event's input context, tracestate included", () => {
    const input = { ...record, headers: { ...record.headers, tracestate: 'vendor=upstream' } };
    const msg = withTraceContext(eventMessage('out', input, sentimentEvent(input, 'r1', scored, model, 1700000000250)), ours);
    expect(msg.headers.traceparent).toBe(ours.traceparent);
    expect(msg.headers.tracestate).toBeUndefined();
    expect(msg.headers['x-source-traceparent']).toBeUndefined();
    expect(withTraceContext(msg, { ...ours, tracestate: 'scorer=1' }).headers.tracestate).toBe('scorer=1');
  });

  it("keeps a dead letter's input context as x-source-traceparent", () => {
    const msg = withTraceContext(deadLetterMessage('dlq', record, 'INVALID_JSON', 'x'), ours);
    expect(msg.headers).toMatchObject({ traceparent: ours.traceparent, 'x-source-traceparent': '00-abc-def-01', other: 'kept-in-dlq-only' });
  });

  it('travels from an event too large for its topic to the dead letter that replaces it', () => {
    const huge = { ...record, key: Buffer.alloc(2_000, 0x6b) };
    const event = withTraceContext(eventMessage('out', huge, sentimentEvent(huge, 'r1', scored, model, 1700000000250)), ours);
    const fitted = fitMessage(event, huge, { maxBytes: 1_500, dlqTopic: 'dlq', prefixBytes: 100 });
    expect(fitted.kind).toBe('dead-letter');
    expect(fitted.headers.traceparent).toBe(ours.traceparent);
    // The key made it too large even for the DLQ, so the input's headers went, its context with them.
    expect(fitted.headers).toMatchObject({ 'x-headers-dropped': 'true', 'x-key-dropped': 'true' });
    expect(fitted.headers['x-source-traceparent']).toBeUndefined();
    // Just too small for the event: the dead letter (a shorter value) fits with all its headers.
    const roomy = fitMessage(event, huge, { maxBytes: messageBytes(event) - 1, dlqTopic: 'dlq', prefixBytes: 100 });
    expect(roomy.headers['x-headers-dropped']).toBeUndefined();
    expect(roomy.kind).toBe('dead-letter');
    expect(roomy.headers).toMatchObject({ traceparent: ours.traceparent, 'x-source-traceparent': '00-abc-def-01' });
  });
});

describe('timestamps no Date can hold', () => {
  const at = (timestamp: string) => sentimentEvent({ ...record, timestamp }, 'r1', scored, model, 1700000000250);

  it.each([
    ['-1 (the producer set none)', '-1'],
    ['past JavaScript Date range', '8640000000000001'],
    ['int64 max', '9223372036854775807'],
    ['int64 min', '-9223372036854775808'],
    ['after year 9999', '253402300800000'],
    ['before year 0000', '-62167219200001'],
  ])('%s give a null time and latency, not a crash', (_what, ts) => {
    const e = at(ts);
    expect(e.source.timestamp).toBeNull();
    expect(e.latencyMs).toBeNull();
  });

  it('keeps real times before 1970', () => {
    expect(at('-2208988800000').source.timestamp).toBe('1900-01-01T00:00:00.000Z');
  });
});

describe('fitting an output into its topic', () => {
  // Room for the key, the scorer's own headers (~560 bytes with the CloudEvents attributes) and a prefix.
  const opts = { maxBytes: 900, dlqTopic: 'dlq', prefixBytes: 100 };

  it('leaves a message that fits as it is', () => {
    const m = deadLetterMessage('dlq', record, 'INVALID_JSON', 'x');
    expect(fitMessage(m, record, opts)).toBe(m);
  });

  it('cuts a large dead letter to a prefix, saying what was cut, and keeps its headers', () => {
    const big = { ...record, value: Buffer.alloc(5_000, 0x62) };
    const fitted = fitMessage(deadLetterMessage('dlq', big, 'TEXT_TOO_LARGE', 'long'), big, opts);
    expect(fitted.value).toEqual(Buffer.alloc(100, 0x62));
    expect(fitted.headers).toMatchObject({
      other: 'kept-in-dlq-only',
      'x-error-code': 'TEXT_TOO_LARGE',
      'x-original-size': '5000',
      'x-original-sha256': createHash('sha256').update(big.value).digest('hex'),
    });
  });

  it('turns an event too large for the output topic (a huge key) into a fitted dead letter', () => {
    const huge = { ...record, key: Buffer.alloc(2_000, 0x6b) };
    const fitted = fitMessage(eventMessage('out', huge, sentimentEvent(huge, 'r1', scored, model, 1700000000250)), huge, opts);
    expect(fitted.kind).toBe('dead-letter');
    expect(fitted.topic).toBe('dlq');
    expect(fitted.headers['x-error-code']).toBe('OUTPUT_TOO_LARGE');
    expect(messageBytes(fitted)).toBeLessThanOrEqual(900);
    // Its CloudEvents attributes survive the cut: they are the scorer's own headers.
    expect(fitted.headers).toMatchObject({ ce_type: 'dev.sentiment-stream.dead-letter.v1', 'content-type': 'application/octet-stream' });
  });

  it("drops the input's own headers, even one named x-..., before the scorer's", () => {
    const loud = { ...record, value: Buffer.alloc(5_000, 0x62), headers: { 'x-upstream-blob': 'z'.repeat(3_000), other: 'o' } };
    const fitted = fitMessage(deadLetterMessage('dlq', loud, 'TEXT_TOO_LARGE', 'long'), loud, opts);
    expect(messageBytes(fitted)).toBeLessThanOrEqual(900);
    expect(fitted.headers['x-upstream-blob']).toBeUndefined();
    expect(fitted.headers).toMatchObject({ 'x-headers-dropped': 'true', 'x-error-code': 'TEXT_TOO_LARGE', ce_id: 'reviews-2-1234567890123-dlq' });
  });
});
