import { describe, expect, it } from 'vitest';
import { decodeInput, type DecodeOptions, type SourceRecord } from './index.js';

const json: DecodeOptions = { format: 'json', textField: 'text', idField: 'id', maxTextBytes: 64 };
const text: DecodeOptions = { ...json, format: 'text' };

function record(value: Buffer | string | null): SourceRecord {
  return {
    topic: 'in',
    partition: 3,
    offset: '42',
    timestamp: '1700000000000',
    key: null,
    value: typeof value === 'string' ? Buffer.from(value) : value,
    headers: {},
  };
}

describe('decodeInput', () => {
  it('takes text and id from a JSON object', () => {
    expect(decodeInput(record('{"id":"a1","text":"great film"}'), json)).toEqual({ ok: true, id: 'a1', text: 'great film' });
    expect(decodeInput(record('{"id":7,"text":"ok"}'), json)).toEqual({ ok: true, id: '7', text: 'ok' });
  });

  it('falls back to topic-partition-offset when there is no id', () => {
    expect(decodeInput(record('{"text":"fine"}'), json)).toEqual({ ok: true, id: 'in-3-42', text: 'fine' });
    expect(decodeInput(record('just words'), text)).toEqual({ ok: true, id: 'in-3-42', text: 'just words' });
  });

  it('honours custom field names', () => {
    const opts = { ...json, textField: 'body', idField: 'uuid' };
    expect(decodeInput(record('{"uuid":"u","body":"hi"}'), opts)).toEqual({ ok: true, id: 'u', text: 'hi' });
  });

  it.each([
    ['a null value', null, json, 'NULL_VALUE'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), json, 'INVALID_UTF8'],
    ['invalid UTF-8 as text', Buffer.from([0xc3, 0x28]), text, 'INVALID_UTF8'],
    ['broken JSON', '{"text": "unterminated', json, 'INVALID_JSON'],
    ['a JSON array', '["text"]', json, 'NOT_AN_OBJECT'],
    ['a JSON string', '"text"', json, 'NOT_AN_OBJECT'],
    ['JSON null', 'null', json, 'NOT_AN_OBJECT'],
    ['no text field', '{"id":"x"}', json, 'MISSING_TEXT'],
    ['a number as text', '{"text":5}', json, 'TEXT_NOT_STRING'],
    ['null as text', '{"text":null}', json, 'TEXT_NOT_STRING'],
    ['an array as text', '{"text":["a"]}', json, 'TEXT_NOT_STRING'],
    ['empty text', '{"text":""}', json, 'EMPTY_TEXT'],
    ['whitespace text', '{"text":" \\t\\n "}', json, 'EMPTY_TEXT'],
    ['whitespace raw text', '   ', text, 'EMPTY_TEXT'],
    ['text over the byte limit', JSON.stringify({ text: 'é'.repeat(33) }), json, 'TEXT_TOO_LARGE'],
    ['raw text over the byte limit', 'x'.repeat(65), text, 'TEXT_TOO_LARGE'],
    ['an object as id', '{"id":{},"text":"a"}', json, 'INVALID_ID'],
    ['an empty id', '{"id":"","text":"a"}', json, 'INVALID_ID'],
  ])('rejects %s with a code and a reason', (_name, value, opts, code) => {
    const result = decodeInput(record(value), opts);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe(code);
      expect(result.reason.length).toBeGreaterThan(5);
    }
  });

  it('survives JSON nested 10,000 deep', () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const result = decodeInput(record(deep), { ...json, maxTextBytes: 1 << 20 });
    expect(result.ok).toBe(false);
  });

  it('accepts text exactly at the byte limit, counting UTF-8 bytes', () => {
    expect(decodeInput(record(JSON.stringify({ text: 'é'.repeat(32) })), json).ok).toBe(true);
  });
});
