import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { deadLetterMessage, eventMessage, sentimentEvent, sentimentV1Schema, type SourceRecord } from './index.js';

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
});
