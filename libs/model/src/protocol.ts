/** Messages between the main thread (model.ts) and the inference worker (inference-worker.ts). */

export const PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export type OrtLogLevel = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';

/** `workerData` of the inference worker. */
export interface WorkerInit {
  dir: string;
  modelPath: string;
  labels: string[];
  maxLength: number;
  maxTextChars: number;
  providers: ProviderName[];
  intraOpThreads: number | undefined;
  ortLogLevel: OrtLogLevel;
}

export type ToWorker = { type: 'run'; id: number; texts: string[]; sentAt: number } | { type: 'close' };

/** Per-call timings, measured in the worker (queueMs: from the call until the worker started it). */
export interface Timings {
  queueMs: number;
  tokenizeMs: number;
  inferenceMs: number;
  /** From the call until the result arrived back on the calling thread. */
  totalMs: number;
  batchSize: number;
  /** Padded sequence length of the batch (longest text, after truncation). */
  seqLen: number;
}

export type FromWorker =
  | { type: 'ready'; provider: ProviderName; failures: { provider: ProviderName; error: string }[] }
  | { type: 'fatal'; error: string }
  | {
      type: 'result';
      id: number;
      logits: Float32Array;
      timings: Omit<Timings, 'totalMs'>;
    }
  | { type: 'error'; id: number; error: string }
  | { type: 'closed' };

/** Wall-clock milliseconds comparable across threads (sub-millisecond resolution). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
