import { softmaxRows } from './encode.js';
import { readModelFolder, type ModelFolder } from './model-folder.js';
import { nowMs, PROVIDERS, type FromWorker, type OrtLogLevel, type ProviderName, type Timings, type ToWorker, type WorkerInit } from './protocol.js';
import { WorkerClient } from './worker-client.js';
import { startWorker } from './worker-entry.js';

export interface LoadOptions {
  /** Folder holding named models (the CLI passes MODELS_DIR); default: the repository's models/. */
  modelsDir?: string;
  /** Providers in order of preference, as a list or a comma-separated string ("cuda,cpu"). Default: cpu. */
  executionProviders?: readonly string[] | string;
  /** ONNX Runtime intra-op threads; default: ORT's choice (one per physical core). */
  intraOpThreads?: number;
  /** Called once per load when a preferred provider could not start and a later one is used. */
  onWarning?: (message: string) => void;
  /** Texts are cut to this many characters before tokenizing (bounds CPU on huge inputs). Default 20000. */
  maxTextChars?: number;
  /** ONNX Runtime's own native log level. Default 'fatal': provider failures reach onWarning instead. */
  ortLogLevel?: OrtLogLevel;
}

export interface ModelInfo {
  name: string;
  version: string;
  /** Class names in logit order. */
  labels: readonly string[];
  maxLength: number;
  /** The execution provider actually in use. */
  provider: ProviderName;
  dataset: string | null;
  /** Absolute path of the model folder. */
  dir: string;
}

export interface Prediction {
  label: string;
  /** Probability of `label` (the highest). */
  score: number;
  probabilities: Record<string, number>;
}

export interface PredictResult {
  /** One per input text, in input order. */
  predictions: Prediction[];
  timings: Timings;
}

export interface LogitsResult {
  /** Raw logits, one row per input text, in input order. */
  logits: number[][];
  timings: Timings;
}

export interface Model {
  readonly info: ModelInfo;
  predict(texts: readonly string[]): Promise<PredictResult>;
  predictLogits(texts: readonly string[]): Promise<LogitsResult>;
  /** Runs `batchSize` short texts through the model (it is already warmed once during load). */
  warmup(batchSize?: number): Promise<Timings>;
  /** Finishes requests already sent, then stops the worker. Later calls reject. Idempotent. */
  close(): Promise<void>;
}

/** "cuda,cpu" or ['cuda', 'cpu'] -> validated provider names, in order, without duplicates. */
export function parseProviders(value: readonly string[] | string): ProviderName[] {
  const names = (typeof value === 'string' ? value.split(',') : [...value]).map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  if (names.length === 0) throw new Error(`no execution provider given (known: ${PROVIDERS.join(', ')})`);
  const out: ProviderName[] = [];
  for (const name of names) {
    if (!(PROVIDERS as readonly string[]).includes(name)) {
      throw new Error(`unknown execution provider "${name}" (known: ${PROVIDERS.join(', ')})`);
    }
    if (!out.includes(name as ProviderName)) out.push(name as ProviderName);
  }
  return out;
}

const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Loads a model folder (a path, or a name under the models folder): validates it, starts the
 * inference worker, picks the first execution provider that starts, and warms the session up.
 * Rejects with one clear error if the folder is invalid or no provider starts.
 */
export async function loadModel(dirOrName: string, options: LoadOptions = {}): Promise<Model> {
  const providers = parseProviders(options.executionProviders ?? ['cpu']);
  const threads = options.intraOpThreads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 0)) {
    throw new Error(`intraOpThreads must be a non-negative integer, got ${threads}`);
  }
  const folder = await readModelFolder(dirOrName, options.modelsDir !== undefined ? { modelsDir: options.modelsDir } : {});
  const init: WorkerInit = {
    dir: folder.dir,
    modelPath: folder.modelPath,
    labels: folder.config.labels,
    maxLength: folder.config.maxLength,
    maxTextChars: options.maxTextChars ?? 20_000,
    providers,
    intraOpThreads: threads,
    ortLogLevel: options.ortLogLevel ?? 'fatal',
  };
  const label = `model ${folder.config.name} (${folder.dir})`;
  const client = new WorkerClient<{ logits: Float32Array; timings: Omit<Timings, 'totalMs'> }>(
    startWorker('inference-worker', { workerData: init }),
    label,
  );

  const ready = new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
    client.worker.on('message', (msg: FromWorker) => {
      switch (msg.type) {
        case 'ready':
          return resolve(msg);
        case 'fatal':
          return reject(new Error(`model folder ${folder.dir}: ${msg.error}`));
        case 'result':
          return client.resolve(msg.id, { logits: msg.logits, timings: msg.timings });
        case 'error':
          return client.reject(msg.id, new Error(`${label}: ${msg.error}`));
        case 'closed':
          return;
      }
    });
    client.worker.once('error', (err) => reject(new Error(`model folder ${folder.dir}: worker failed to start: ${err.message}`)));
    client.worker.once('exit', (code) => reject(new Error(`model folder ${folder.dir}: worker exited during load (code ${code})`)));
    // Loading happens before any request, so keep the process alive until it settles.
    client.worker.ref();
  });

  let started: Extract<FromWorker, { type: 'ready' }>;
  try {
    started = await ready;
  } catch (err) {
    await client.worker.terminate();
    throw err;
  } finally {
    client.worker.unref();
  }
  if (started.failures.length > 0) {
    const detail = started.failures.map((f) => `${f.provider}: ${f.error}`).join('; ');
    options.onWarning?.(`${label}: execution provider${started.failures.length > 1 ? 's' : ''} ${started.failures.map((f) => f.provider).join(', ')} could not start, using ${started.provider} (${detail})`);
  }
  return new WorkerModel(folder, started.provider, client);
}

class WorkerModel implements Model {
  readonly info: ModelInfo;
  private closing: Promise<void> | null = null;

  constructor(
    folder: ModelFolder,
    provider: ProviderName,
    private readonly client: WorkerClient<{ logits: Float32Array; timings: Omit<Timings, 'totalMs'> }>,
  ) {
    const c = folder.config;
    this.info = Object.freeze({
      name: c.name,
      version: c.version,
      labels: Object.freeze([...c.labels]),
      maxLength: c.maxLength,
      provider,
      dataset: c.dataset,
      dir: folder.dir,
    });
  }

  async predict(texts: readonly string[]): Promise<PredictResult> {
    const { logits, timings } = await this.run(texts);
    const labels = this.info.labels;
    const classes = labels.length;
    const probs = softmaxRows(logits, classes);
    const predictions: Prediction[] = new Array(texts.length);
    for (let r = 0; r < texts.length; r++) {
      const probabilities: Record<string, number> = {};
      let best = 0;
      for (let c = 0; c < classes; c++) {
        const p = probs[r * classes + c]!;
        probabilities[labels[c]!] = p;
        if (p > probs[r * classes + best]!) best = c;
      }
      predictions[r] = { label: labels[best]!, score: probs[r * classes + best]!, probabilities };
    }
    return { predictions, timings };
  }

  async predictLogits(texts: readonly string[]): Promise<LogitsResult> {
    const { logits, timings } = await this.run(texts);
    const classes = this.info.labels.length;
    const rows: number[][] = [];
    for (let r = 0; r < texts.length; r++) rows.push(Array.from(logits.subarray(r * classes, (r + 1) * classes)));
    return { logits: rows, timings };
  }

  async warmup(batchSize = 1): Promise<Timings> {
    return (await this.run(Array.from({ length: batchSize }, () => 'warm up'))).timings;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const worker = this.client.worker;
      worker.ref();
      worker.postMessage({ type: 'close' } satisfies ToWorker);
      const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
      await this.client.whenExited();
      clearTimeout(timer);
      this.client.fail(`model ${this.info.name} is closed`);
    })();
    return this.closing;
  }

  private async run(texts: readonly string[]): Promise<{ logits: Float32Array; timings: Timings }> {
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
      throw new TypeError(`model ${this.info.name}: predict() takes an array of strings`);
    }
    if (this.closing) throw new Error(`model ${this.info.name} is closed`);
    if (texts.length === 0) {
      return { logits: new Float32Array(0), timings: { queueMs: 0, tokenizeMs: 0, inferenceMs: 0, totalMs: 0, batchSize: 0, seqLen: 0 } };
    }
    const sentAt = nowMs();
    const res = await this.client.request((id) => ({ message: { type: 'run', id, texts: [...texts], sentAt } satisfies ToWorker }));
    return { logits: res.logits, timings: { ...res.timings, totalMs: nowMs() - sentAt } };
  }
}
