import type { Scored } from '@sentiment-stream/events';

/** A model's state as the scorer reports it (libs/model's ModelHealth fits it). */
export interface PredictorHealth {
  /** ok: answering; restarting: a replacement worker is starting (calls wait); failed: gave up; closed. */
  state: 'ok' | 'restarting' | 'failed' | 'closed';
  restarts: number;
  consecutiveFailures: number;
  lastError: string | null;
}

/**
 * What the pipeline needs from a model: batched scoring with timings, in input order. `predict`
 * rejects with an error whose `retriable` is true when the batch itself was fine (the worker died
 * or hung and was replaced: try again), and otherwise with an error about these texts (the batch is
 * split to find the one that fails alone), or, once `health()` says failed, for good.
 */
export interface Predictor {
  readonly info: { name: string; version: string; provider: string; labels: readonly string[] };
  predict(texts: readonly string[]): Promise<{ predictions: Scored[]; timings: { tokenizeMs: number; inferenceMs: number } }>;
  health?(): PredictorHealth;
}

/** A predictor the scorer owns: it closes it on shutdown. */
export interface ManagedPredictor extends Predictor {
  close(): Promise<void>;
}
