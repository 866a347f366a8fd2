// The poison scenario's inputs, generated: each bad one with the dead-letter code docs/events.md
// gives it, each good one (including hostile but valid unicode) with none, so the scenario can
// check every record's fate one by one. Seeded, so a failure reproduces.
import { prng } from '../../support/random.js';
import type { Input } from './ledger.js';

export { prng as rng };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** What a random draw should get: almost always INVALID_UTF8; a valid draw is rarely JSON, and never an object. */
function randomBytesCode(bytes: Buffer): string {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return 'INVALID_UTF8';
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? 'MISSING_TEXT' : 'NOT_AN_OBJECT';
  } catch {
    return 'INVALID_JSON';
  }
}

const json = (o: unknown) => Buffer.from(JSON.stringify(o));
const withText = (id: string, text: unknown) => json({ id, text });

/** `{"text": <bytes>}` with raw (not escaped) bytes inside the string. */
function rawText(id: string, bytes: number[]): Buffer {
  return Buffer.concat([Buffer.from(`{"id":"${id}","text":"ok `), Buffer.from(bytes), Buffer.from('"}')]);
}

export const MAX_TEXT_BYTES = 16_384;
export const BIG_VALUE_BYTES = 10 * 1024 * 1024;

/** Bad inputs (code set) and hostile-but-valid ones (no code), as makers of one input from its id. */
export function poisonMakers(random: () => number): ((id: string) => Input)[] {
  const makers: ((id: string) => Input)[] = [];
  const add = (expectCode: string | undefined, value: (id: string) => Buffer | string | null, key: (id: string) => Buffer | string | null = (id) => id) =>
    makers.push((id) => ({ key: key(id), value: value(id), ...(expectCode ? { expectCode } : {}) }));

  // Random bytes: almost always invalid UTF-8; the rare valid draw is still not JSON.
  for (let n = 0; n < 40; n++) {
    const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 3_000) }, () => Math.floor(random() * 256)));
    add(randomBytesCode(bytes), () => bytes);
  }
  // Invalid UTF-8 inside an otherwise good JSON text.
  const badSequences = [[0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80]];
  for (const seq of badSequences) add('INVALID_UTF8', (id) => rawText(id, seq));
  // JSON nested 10,000 deep, in each place it can be.
  const deep = (open: string, close: string, d = 10_000) => open.repeat(d) + close.repeat(d);
  add('NOT_AN_OBJECT', () => deep('[', ']'));
  add('TEXT_NOT_STRING', (id) => `{"id":"${id}","text":${deep('[', ']')}}`);
  add('TEXT_NOT_STRING', (id) => `{"id":"${id}","text":${deep('{"a":', '}').replace(/\{"a":\}/, '{"a":1}')}}`);
  add('MISSING_TEXT', (id) => `{"id":"${id}",${'"a":{'.repeat(10_000)}${'}'.repeat(10_000)}}`);
  add('INVALID_ID', () => `{"id":${deep('[', ']')},"text":"fine"}`);
  add('INVALID_JSON', () => deep('[', ']', 10_000).slice(0, -1)); // one bracket short
  add('INVALID_JSON', () => '{"text":' + '['.repeat(100_000));
  // A 10 MB value (over MAX_TEXT_BYTES; the topics allow 16 MB records).
  add('TEXT_TOO_LARGE', (id) => withText(id, 'x'.repeat(BIG_VALUE_BYTES)));
  add('INVALID_JSON', () => Buffer.alloc(BIG_VALUE_BYTES, 0x7b)); // 10 MB of '{'
  // Numbers, arrays, null, objects, booleans where the text belongs; non-objects at the top.
  for (const v of [42, -0.5, 1e308, [1, 2], ['text'], null, {}, { text: 'nested' }, true]) add('TEXT_NOT_STRING', (id) => withText(id, v));
  for (const v of ['42', '"just a string"', 'null', 'true', '[]', '[{"text":"in an array"}]', '1e400']) add('NOT_AN_OBJECT', () => v);
  add('INVALID_JSON', () => '');
  add('INVALID_JSON', () => '{"text":"unterminated');
  add('INVALID_JSON', () => '{"text":"a"}{"text":"b"}');
  add('INVALID_JSON', () => '\u0000');
  add('MISSING_TEXT', (id) => json({ id, body: 'no text field' }));
  add('MISSING_TEXT', (id) => json({ id, TEXT: 'wrong case' }));
  add('EMPTY_TEXT', (id) => withText(id, ''));
  add('EMPTY_TEXT', (id) => withText(id, ' \t\n\u00a0\u2003 '));
  add('INVALID_ID', () => json({ id: '', text: 'fine' }));
  add('INVALID_ID', () => json({ id: { nested: true }, text: 'fine' }));
  add('INVALID_ID', () => json({ id: [1], text: 'fine' }));
  add('INVALID_ID', () => json({ id: false, text: 'fine' }));
  add('TEXT_TOO_LARGE', (id) => withText(id, 'a'.repeat(MAX_TEXT_BYTES + 1)));
  // 16,400 bytes but only 4,100 UTF-16 units: the limit is on bytes.
  add('TEXT_TOO_LARGE', (id) => withText(id, '😀'.repeat(4_100)));
  add('NULL_VALUE', () => null);
  add('NULL_VALUE', () => null, () => '');
  add('NULL_VALUE', () => null, () => null);
  // Bad inputs with empty, absent and huge keys.
  add('INVALID_JSON', () => 'nope', () => '');
  add('INVALID_JSON', () => 'nope', () => null);
  add('INVALID_JSON', () => 'nope', () => Buffer.alloc(64 * 1024, 0x6b));

  // Hostile but valid: each must be scored, not dead-lettered.
  const hostile = [
    '😀'.repeat(3_000), // 12,000 bytes of emoji, under the limit
    '👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈 '.repeat(200),
    'هذا الفيلم رائع جدا، أحببته كثيرا '.repeat(100),
    'הסרט הזה היה נוראי לגמרי '.repeat(100),
    'مرحبا abc שלום 123 \u202Eevil\u202C \u200F'.repeat(50),
    `Z${'\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309'.repeat(500)}algo`,
    'e\u0301'.repeat(2_000),
    '\uFEFFbom at the start',
    'nul\u0000inside\u0000the text',
    '𝕿𝖍𝖎𝖘 𝖋𝖎𝖑𝖒 𝖜𝖆𝖘 𝖌𝖗𝖊𝖆𝖙 '.repeat(100),
    '中文评论：这部电影非常好看。'.repeat(100),
    '\u0000'.repeat(100) + 'x',
    'a\uD83D\uDE00b', // a valid surrogate pair, escaped by JSON.stringify as the real emoji
    '\u2028\u2029 line separators',
  ];
  for (const text of hostile) add(undefined, (id) => withText(id, text));
  add(undefined, (id) => withText(id, 'a fine film, empty key'), () => '');
  add(undefined, (id) => withText(id, 'a fine film, no key'), () => null);
  add(undefined, (id) => withText(id, 'a fine film, huge key'), () => Buffer.alloc(64 * 1024, 0x6b));
  return makers;
}
