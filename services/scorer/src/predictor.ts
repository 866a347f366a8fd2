import type { Scored } from '@sentiment-stream/events';

/** What the pipeline needs from a model: batched scoring with timings, in input order. */
export interface Predictor {
  readonly info: { name: string; version: string; provider: string; labels: readonly string[] };
  predict(texts: readonly string[]): Promise<{ predictions: Scored[]; timings: { tokenizeMs: number; inferenceMs: number } }>;
}

/** A predictor the scorer owns: it closes it on shutdown. */
export interface ManagedPredictor extends Predictor {
  close(): Promise<void>;
}
