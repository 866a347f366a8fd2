/** Messages between the main thread (model.ts), the inference worker (inference-worker.ts), its tokenizer stage (tokenize-worker.ts) and its session threads (session-thread.ts). */
import type { MessagePort } from 'node:worker_threads';

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
  /**
   * ONNX Runtime sessions that run a call's runs at the same time: the worker's own and
   * `sessions - 1` session threads (session-thread.ts), on the cpu provider (loadModel sets 1 when
   * another provider comes first).
   */
  sessions: number;
  /** Set by startInferenceWorker (supervisor.ts): one end of a channel to each of the worker's session threads. */
  sessionPorts?: MessagePort[];
  /**
   * Nice value the worker's thread takes before it starts the tokenizer thread and ONNX Runtime's
   * pool, which inherit it (Linux's nice is per thread); 0 leaves it as it is.
   */
  nice: number;
  ortLogLevel: OrtLogLevel;
  /** Only with LoadOptions.faultInjection: one flag per `-once` fault, shared by every worker of the model. */
  faultState?: SharedArrayBuffer;
}

/** `workerData` of the tokenizer stage (tokenize-worker.ts), started by the inference worker. */
export interface TokenizerInit {
  dir: string;
  maxLength: number;
  maxTextChars: number;
  /** config.json's window_stride: long texts are read in windows; null: cut at maxLength. */
  windowStride: number | null;
  /** Only with LoadOptions.faultInjection: the stage honours the `tokenizer-exit` fault text. */
  faultInjection: boolean;
}

export type ToTokenizer = { id: number; texts: string[] };

/**
 * Rows as one flat array: row r is `ids[offsets[r] .. offsets[r + 1])`; `owner[r]` is the text row r
 * belongs to (windowed models only; otherwise row r is text r).
 */
export type FromTokenizer =
  | { type: 'ready'; padId: number }
  | { type: 'fatal'; error: string }
  | { type: 'rows'; id: number; ids: Int32Array; offsets: Int32Array; owner: Int32Array | null; tokenizeMs: number }
  | { type: 'error'; id: number; error: string };

/**
 * `workerData` of a session thread (session-thread.ts). It is started by the main thread, beside
 * its worker, and talks to the worker over `port` (the worker has the other end).
 */
export interface SessionThreadInit {
  modelPath: string;
  intraOpThreads: number | undefined;
  ortLogLevel: OrtLogLevel;
  classes: number;
  nice: number;
  port: MessagePort;
}

/** What the main thread tells a session thread: its worker has ended, so end after the run in progress. */
export type ToSessionThreadControl = { type: 'close' };

/** One packed run ([batch, seqLen] int64 data), as a session thread receives it. */
export interface PackedRun {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  batch: number;
  seqLen: number;
}

/** A share of one call: its runs, run in order; the answer holds their logits in the same order. */
export type ToSessionThread = { id: number; runs: PackedRun[] };

export type FromSessionThread =
  | { type: 'ready' }
  | { type: 'fatal'; error: string }
  | { type: 'logits'; id: number; logits: Float32Array[] }
  | { type: 'error'; id: number; error: string };

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
  | { type: 'ready'; provider: ProviderName; failures: { provider: ProviderName; error: string }[]; warnings: string[] }
  | { type: 'fatal'; error: string }
  | {
      type: 'result';
      id: number;
      logits: Float32Array;
      timings: Omit<Timings, 'totalMs'>;
    }
  | { type: 'error'; id: number; error: string }
  | { type: 'closed' };

/**
 * Fault injection, for tests only (LoadOptions.faultInjection; fault-worker.ts). A call with a text
 * `faultText(kind)` makes the worker, when its ONNX Runtime run reaches that call:
 * - `exit`: exit (code 86), as a crashed worker thread does;
 * - `throw`: throw an uncaught error (the worker's 'error' event, then exit);
 * - `hang`: block its thread for ever in JavaScript (Atomics.wait), as a hung call does;
 *   `terminate()` ends it;
 * - `block <path>`: block its thread in native code reading the file (a FIFO) until something is
 *   written to it, as a hung ONNX Runtime call does; `terminate()` cannot end it before that;
 * - `error`: fail the run, so the worker answers this call with an error (the model's own failure);
 * - `exit-once` / `hang-once`: as `exit` / `hang`, the first time only for the model (every worker
 *   it starts), so the retry succeeds;
 * - `tokenizer-exit`: the worker's tokenizer stage (its own thread) exits while tokenizing the call.
 */
export const FAULT_KINDS = ['exit', 'exit-once', 'throw', 'hang', 'hang-once', 'block', 'error', 'tokenizer-exit'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export const FAULT_PREFIX = 'sentiment-stream fault injection: ';

/** The text that triggers `kind` in a model loaded with faultInjection (`arg`: the FIFO of `block`). */
export function faultText(kind: FaultKind, arg?: string): string {
  return `${FAULT_PREFIX}${kind}${arg !== undefined ? ` ${arg}` : ''}`;
}

/** Wall-clock milliseconds comparable across threads (sub-millisecond resolution). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
