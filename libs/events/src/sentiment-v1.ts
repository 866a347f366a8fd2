import type { SourceRecord } from './input.js';

/** The output event, one per scored input record. docs/events.md describes it for consumers. */
export interface SentimentEventV1 {
  schema: 'sentiment.v1';
  id: string;
  label: string;
  score: number;
  probabilities: Record<string, number>;
  model: { name: string; version: string; provider: string };
  source: { topic: string; partition: number; offset: string; timestamp: string | null };
  scoredAt: string;
  latencyMs: number | null;
}

/** JSON Schema (draft 2020-12) of `SentimentEventV1`; the one contract for downstream consumers. */
export const sentimentV1Schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'sentiment.v1',
  title: 'Sentiment event, version 1',
  type: 'object',
  additionalProperties: false,
  required: ['schema', 'id', 'label', 'score', 'probabilities', 'model', 'source', 'scoredAt', 'latencyMs'],
  properties: {
    schema: { const: 'sentiment.v1' },
    id: { type: 'string', minLength: 1, description: "The input's id field, else topic-partition-offset." },
    label: { type: 'string', minLength: 1, description: 'The most probable label.' },
    score: { type: 'number', minimum: 0, maximum: 1, description: 'Probability of `label`.' },
    probabilities: {
      type: 'object',
      minProperties: 2,
      additionalProperties: { type: 'number', minimum: 0, maximum: 1 },
      description: "Every label of the model with its probability; they sum to 1.",
    },
    model: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'version', 'provider'],
      properties: {
        name: { type: 'string' },
        version: { type: 'string' },
        provider: { type: 'string', description: 'ONNX Runtime execution provider that ran it: cpu, cuda or webgpu.' },
      },
    },
    source: {
      type: 'object',
      additionalProperties: false,
      required: ['topic', 'partition', 'offset', 'timestamp'],
      properties: {
        topic: { type: 'string' },
        partition: { type: 'integer', minimum: 0 },
        offset: { type: 'string', pattern: '^[0-9]+$', description: 'Kafka offset (int64, as a string).' },
        timestamp: {
          oneOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }],
          description: "The input record's Kafka timestamp; null when it has none (-1) or it lies outside years 0000-9999 (docs/events.md).",
        },
      },
    },
    scoredAt: { type: 'string', format: 'date-time' },
    latencyMs: { oneOf: [{ type: 'number', minimum: 0 }, { type: 'null' }], description: 'From the input timestamp to scoring; null when the timestamp is.' },
  },
} as const;

export interface Scored {
  label: string;
  score: number;
  probabilities: Record<string, number>;
}

export function sentimentEvent(
  record: SourceRecord,
  id: string,
  scored: Scored,
  model: SentimentEventV1['model'],
  now: number,
): SentimentEventV1 {
  const producedAt = timestampMs(record.timestamp);
  return {
    schema: 'sentiment.v1',
    id,
    label: scored.label,
    score: scored.score,
    probabilities: scored.probabilities,
    model,
    source: {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: producedAt === null ? null : new Date(producedAt).toISOString(),
    },
    scoredAt: new Date(now).toISOString(),
    // Producer clocks can run ahead of ours; a negative latency would only mislead.
    latencyMs: producedAt === null ? null : Math.max(0, now - producedAt),
  };
}

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the times RFC 3339 (JSON Schema's date-time) can write. */
const EARLIEST_MS = -62_167_219_200_000;
const LATEST_MS = 253_402_300_799_999;

/**
 * A Kafka record timestamp (a decimal int64) as epoch milliseconds, or null when there is no
 * usable time: -1 (the producer set none), anything outside years 0000-9999 (a producer may write
 * any int64; `new Date(x).toISOString()` throws beyond +-8.64e15 ms), or not a number at all.
 * Never throws: one odd record must not stop the stream.
 */
export function timestampMs(raw: string): number | null {
  if (!/^-?\d{1,20}$/.test(raw)) return null;
  const ms = Number(raw);
  if (ms === -1 || ms < EARLIEST_MS || ms > LATEST_MS) return null;
  return ms;
}
