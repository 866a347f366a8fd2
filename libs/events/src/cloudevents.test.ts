// Events and dead letters, as a Kafka consumer receives them, read by the CloudEvents SDK's Kafka
// binding (the npm `cloudevents` package): each must come out a valid CloudEvent in binary mode.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { CloudEvent, Kafka, type KafkaMessage } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { deadLetterMessage, eventMessage, fitMessage, sentimentEvent, sentimentV1Schema, skippedRecordsMessage, withTraceContext, type OutboundMessage, type SourceRecord } from './index.js';

const record: SourceRecord = {
  topic: 'reviews',
  partition: 2,
  offset: '1234567890123',
  timestamp: '1700000000000',
  key: Buffer.from('user-9'),
  value: Buffer.from('{"text":"lovely","id":"review-8812"}'),
  headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', origin: Buffer.from('suite') },
};
const scored = { label: 'positive', score: 0.9, probabilities: { negative: 0.1, positive: 0.9 } };
const model = { name: 'sst2-bilstm', version: '1.0.0', provider: 'cpu' };

/**
 * What a consumer holds after a round trip through the broker: header values are bytes, which a
 * CloudEvents reader decodes as UTF-8 (the binding: "header values MUST be encoded as UTF-8");
 * a header sent several times arrives as several values, of which the SDK's plain map keeps one.
 */
function received(m: OutboundMessage): KafkaMessage<unknown> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.headers)) {
    const values = (Array.isArray(value) ? value : [value]).map((v) => Buffer.from(v).toString('utf8'));
    headers[name] = values.at(-1)!;
  }
  return { key: m.key?.toString('utf8') ?? '', value: m.value, headers } as KafkaMessage<unknown>;
}

describe('CloudEvents (Kafka binding, binary mode)', () => {
  it('an event parses into a valid CloudEvent whose data is the sentiment.v1 JSON', () => {
    const event = sentimentEvent(record, 'review-8812', scored, model, 1700000000250);
    const message = eventMessage('sentiment-events', record, event);
    expect(Kafka.isEvent(received(message))).toBe(true);

    const ce = Kafka.toEvent(received(message)) as CloudEvent<unknown>;
    expect(ce.validate()).toBe(true);
    expect({ specversion: ce.specversion, id: ce.id, source: ce.source, type: ce.type, time: ce.time, subject: ce.subject, datacontenttype: ce.datacontenttype }).toEqual({
      specversion: '1.0',
      id: 'reviews-2-1234567890123',
      source: '/sentiment-stream/scorer/reviews',
      type: 'dev.sentiment-stream.sentiment.v1',
      time: event.scoredAt,
      subject: 'review-8812',
      datacontenttype: 'application/json',
    });
    expect(ce.data).toEqual(JSON.parse(message.value!.toString()));
    expect(ce.data).toEqual(event);
    const ajv = new Ajv2020({ strict: true });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    expect(ajv.validate(sentimentV1Schema, ce.data)).toBe(true);
    // The record key stays the Kafka key: the SDK reads it back as the partitionkey extension.
    expect(ce.partitionkey).toBe('user-9');
    // Nothing else was taken for an extension attribute (traceparent, x-schema are plain headers).
    expect(Object.keys(ce.toJSON()).filter((k) => (ce.toJSON() as Record<string, unknown>)[k] !== undefined).sort()).toEqual(['data', 'datacontenttype', 'id', 'partitionkey', 'source', 'specversion', 'subject', 'time', 'type']);
  });

  it('a re-delivered input gets the same id; its dead letter a different one', () => {
    const first = eventMessage('out', record, sentimentEvent(record, 'review-8812', scored, model, 1700000000250));
    const again = eventMessage('out', record, sentimentEvent(record, 'review-8812', scored, model, 1700000099999));
    const dead = deadLetterMessage('dlq', record, 'INFERENCE_FAILED', 'x');
    expect(again.headers.ce_id).toBe(first.headers.ce_id);
    expect(dead.headers.ce_id).not.toBe(first.headers.ce_id);
    expect(dead.headers.ce_source).toBe(first.headers.ce_source);
  });

  it('a dead letter parses into a valid CloudEvent whose data is the original bytes', () => {
    const bad = { ...record, value: Buffer.from([0x7b, 0x22, 0xff, 0xfe]) };
    const message = deadLetterMessage('sentiment-dlq', bad, 'INVALID_UTF8', 'the value is not valid UTF-8', Date.parse('2026-03-04T05:06:07.089Z'));
    const ce = Kafka.toEvent(received(message)) as CloudEvent<unknown>;
    expect(ce.validate()).toBe(true);
    expect(ce).toMatchObject({
      specversion: '1.0',
      id: 'reviews-2-1234567890123-dlq',
      source: '/sentiment-stream/scorer/reviews',
      type: 'dev.sentiment-stream.dead-letter.v1',
      time: '2026-03-04T05:06:07.089Z',
      datacontenttype: 'application/octet-stream',
    });
    expect(ce.subject).toBeUndefined();
    expect(Buffer.from(ce.data_base64!, 'base64')).toEqual(bad.value);
    // Today's headers stay beside the CloudEvents ones.
    expect(received(message).headers).toMatchObject({ 'x-error-code': 'INVALID_UTF8', 'x-source-offset': '1234567890123', origin: 'suite' });
  });

  it("a dead letter of an input that was itself a CloudEvent is the dead letter's event, not the input's", () => {
    // Structured mode: the SDK would read the value as the event if the content type came through.
    const upstream = {
      ...record,
      value: Buffer.from('{"specversion":"1.0","id":"u-1","source":"/shop","type":"com.example.review","data":{"txt":1}}'),
      headers: { 'content-type': 'application/cloudevents+json; charset=UTF-8', ce_id: 'u-1', ce_shopext: 'kept' },
    };
    const message = deadLetterMessage('dlq', upstream, 'MISSING_TEXT', 'the object has no "text" field');
    const ce = Kafka.toEvent(received(message)) as CloudEvent<unknown>;
    expect(ce.validate()).toBe(true);
    expect(ce).toMatchObject({ id: 'reviews-2-1234567890123-dlq', type: 'dev.sentiment-stream.dead-letter.v1' });
    expect(ce.shopext).toBeUndefined();
    expect(received(message).headers).toMatchObject({ 'x-source-content-type': 'application/cloudevents+json; charset=UTF-8', 'x-source-ce_id': 'u-1', 'x-source-ce_shopext': 'kept' });
  });

  it('with tracing, traceparent stays a plain header, not an attribute', () => {
    const message = withTraceContext(eventMessage('out', record, sentimentEvent(record, 'r', scored, model, 1700000000250)), {
      traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
    });
    const ce = Kafka.toEvent(received(message)) as CloudEvent<unknown>;
    expect(ce.validate()).toBe(true);
    expect(ce.traceparent).toBeUndefined();
  });

  it('an event turned dead letter for its size, cut to fit, is still a valid CloudEvent', () => {
    const huge = { ...record, key: Buffer.alloc(3_000, 0x6b), value: Buffer.alloc(4_000, 0x61) };
    const fitted = fitMessage(eventMessage('out', huge, sentimentEvent(huge, 'r', scored, model, 1700000000250)), huge, { maxBytes: 1_200, dlqTopic: 'dlq', prefixBytes: 100 });
    expect(fitted.headers['x-key-dropped']).toBe('true');
    const ce = Kafka.toEvent(received(fitted)) as CloudEvent<unknown>;
    expect(ce.validate()).toBe(true);
    expect(ce.type).toBe('dev.sentiment-stream.dead-letter.v1');
  });

  it('the dead letter for skipped undecodable records carries the attributes of a valid CloudEvent', () => {
    const message = skippedRecordsMessage('dlq', { topic: 'reviews', partition: 4, from: 100n, to: 163n, reason: 'CRC mismatch' }, Date.parse('2026-05-06T07:08:09.000Z'));
    const attributes = Object.fromEntries(Object.entries(received(message).headers).filter(([name]) => name.startsWith('ce_')).map(([name, v]) => [name.slice(3), v]));
    const ce = new CloudEvent(attributes as { source: string; type: string }, true);
    expect(ce.validate()).toBe(true);
    expect(ce).toMatchObject({ id: 'reviews-4-100-dlq', source: '/sentiment-stream/scorer/reviews', type: 'dev.sentiment-stream.dead-letter.v1', time: '2026-05-06T07:08:09.000Z' });
    expect(message.headers['content-type']).toBeUndefined();
  });

  it("a tombstone's dead letter has no value and no content type; its attributes still make a valid CloudEvent", () => {
    const message = deadLetterMessage('dlq', { ...record, value: null }, 'NULL_VALUE', 'the message has no value (tombstone)');
    expect(message.value).toBeNull();
    expect(message.headers['content-type']).toBeUndefined();
    // The binding (3.2.2) maps an event without data to a message without value, but the JS SDK
    // (10.0.0) refuses a null value outright, so read the attributes from the headers here.
    expect(() => Kafka.toEvent(received(message))).toThrow('Value is null or undefined');
    const headers = received(message).headers;
    const attributes = Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('ce_')).map(([name, v]) => [name.slice(3), v]));
    const ce = new CloudEvent(attributes as { source: string; type: string }, true);
    expect(ce.validate()).toBe(true);
    expect(ce.id).toBe('reviews-2-1234567890123-dlq');
  });
});
