import type { SourceRecord } from './input.js';

/** The output event, one per scored input record. docs/events.md describes it for consumers. */
export interface SentimentEventV1 {
  schema: 'sentiment.v1';
  id: string;
  label: string;
  score: number;
  probabilities: Record<string, number>;
  model: { name: string; version: string; provider: string };
  source: { topic: string; partition: number; offset: string; timestamp: string };
  scoredAt: string;
  latencyMs: number;
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
        timestamp: { type: 'string', format: 'date-time', description: "The input record's Kafka timestamp." },
      },
    },
    scoredAt: { type: 'string', format: 'date-time' },
    latencyMs: { type: 'number', minimum: 0, description: 'From the input timestamp to scoring.' },
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
  const producedAt = Number(record.timestamp);
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
      timestamp: new Date(producedAt).toISOString(),
    },
    scoredAt: new Date(now).toISOString(),
    // Producer clocks can run ahead of ours; a negative latency would only mislead.
    latencyMs: Math.max(0, now - producedAt),
  };
}
