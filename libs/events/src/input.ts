/** One Kafka record as the scorer received it, independent of the client library. */
export interface SourceRecord {
  topic: string;
  partition: number;
  offset: string;
  /**
   * Milliseconds since the epoch, as Kafka stores it (a decimal int64: -1 when the producer set
   * none, and any other value a producer chose, far outside JavaScript's Date range included).
   */
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export type InputFormat = 'json' | 'text';

/** Ids longer than this (UTF-8 bytes) are refused: an id travels in every event, and the event must fit the output topic. */
export const MAX_ID_BYTES = 1024;

export interface DecodeOptions {
  format: InputFormat;
  textField: string;
  idField: string;
  maxTextBytes: number;
}

/** Stable reasons a record cannot be scored; they travel as the dead letter's `x-error-code`. */
export const deadLetterCodes = [
  'NULL_VALUE',
  'INVALID_UTF8',
  'INVALID_JSON',
  'NOT_AN_OBJECT',
  'MISSING_TEXT',
  'TEXT_NOT_STRING',
  'EMPTY_TEXT',
  'TEXT_TOO_LARGE',
  'INVALID_ID',
  // The model failed on this text alone (after its batch failed); the text is kept for inspection.
  'INFERENCE_FAILED',
  // The event would be larger than the output topic accepts (a huge key or id); the record is kept here instead.
  'OUTPUT_TOO_LARGE',
  // The scorer failed on this record in a way it did not expect (a defect); kept here rather than stopping the stream.
  'INTERNAL_ERROR',
  // Records whose batch no client can decode (corrupt bytes in the partition): one dead letter names the skipped offsets.
  'CORRUPT_BATCH',
] as const;
export type DeadLetterCode = (typeof deadLetterCodes)[number];

export type Decoded =
  | { ok: true; id: string; text: string }
  | { ok: false; code: DeadLetterCode; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Turns a record's value into the text to score, or the reason it cannot be scored. Never throws. */
export function decodeInput(record: SourceRecord, opts: DecodeOptions): Decoded {
  const fallbackId = `${record.topic}-${record.partition}-${record.offset}`;
  if (record.value === null) return fail('NULL_VALUE', 'the message has no value (tombstone)');
  // A JSON envelope around an over-long text is itself over-long; refusing early bounds parse cost.
  if (opts.format === 'text' && record.value.length > opts.maxTextBytes) return tooLarge(record.value.length, opts);
  let decoded: string;
  try {
    decoded = utf8.decode(record.value);
  } catch {
    return fail('INVALID_UTF8', 'the value is not valid UTF-8');
  }
  if (opts.format === 'text') return textResult(fallbackId, decoded, record.value.length, opts);

  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded);
  } catch (err) {
    return fail('INVALID_JSON', `the value is not valid JSON: ${(err as Error).message}`.slice(0, 200));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('NOT_AN_OBJECT', `the value is JSON but not an object (got ${Array.isArray(parsed) ? 'array' : parsed === null ? 'null' : typeof parsed})`);
  }
  const fields = parsed as Record<string, unknown>;
  const text = fields[opts.textField];
  if (text === undefined) return fail('MISSING_TEXT', `the object has no "${opts.textField}" field`);
  if (typeof text !== 'string') {
    return fail('TEXT_NOT_STRING', `"${opts.textField}" must be a string (got ${text === null ? 'null' : Array.isArray(text) ? 'array' : typeof text})`);
  }
  const rawId = fields[opts.idField];
  let id = fallbackId;
  if (rawId !== undefined && rawId !== null) {
    if ((typeof rawId !== 'string' && typeof rawId !== 'number') || String(rawId) === '') {
      return fail('INVALID_ID', `"${opts.idField}" must be a non-empty string or a number`);
    }
    id = String(rawId);
    if (Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES) return fail('INVALID_ID', `"${opts.idField}" is longer than ${MAX_ID_BYTES} bytes`);
  }
  return textResult(id, text, Buffer.byteLength(text, 'utf8'), opts);
}

function textResult(id: string, text: string, bytes: number, opts: DecodeOptions): Decoded {
  if (bytes > opts.maxTextBytes) return tooLarge(bytes, opts);
  if (text.trim() === '') return fail('EMPTY_TEXT', 'the text is empty or only whitespace');
  return { ok: true, id, text };
}

function tooLarge(bytes: number, opts: DecodeOptions): Decoded {
  return fail('TEXT_TOO_LARGE', `the text is ${bytes} bytes, over MAX_TEXT_BYTES=${opts.maxTextBytes}`);
}

function fail(code: DeadLetterCode, reason: string): Decoded {
  return { ok: false, code, reason };
}
