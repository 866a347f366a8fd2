import { softmaxRows } from './encode.js';
import { ModelFailedError } from './errors.js';
import { readModelFolder, type ModelFolder } from './model-folder.js';
import { nowMs, PROVIDERS, type OrtLogLevel, type ProviderName, type Timings, type WorkerInit } from './protocol.js';
import { ModelSupervisor, startInferenceWorker, type ModelHealth, type RestartEvent, type RunReply, type SupervisionOptions } from './supervisor.js';

export interface LoadOptions {
  /** Folder holding named models (the CLI passes MODELS_DIR); default: the repository's models/. */
  modelsDir?: string;
  /** Providers in order of preference, as a list or a comma-separated string ("cuda,cpu"). Default: cpu. */
  executionProviders?: readonly string[] | string;
  /** ONNX Runtime intra-op threads of each session; default: ORT's choice (one per physical core). */
  intraOpThreads?: number;
  /**
   * ONNX Runtime sessions of the model that share each call's runs, each on a thread of its own
   * (when cpu is the first provider; otherwise one, and onWarning says so). Default 1. On CPU, `sessions: 2, intraOpThreads:
   * 1` beats one session of 2 threads (README, "Sessions").
   */
  sessions?: number;
  /**
   * Nice value (0-19) of the inference side's threads (the worker, its tokenizer thread, ORT's pool),
   * so the caller's thread runs first on busy cores. Default 0: the caller's priority.
   */
  nice?: number;
  /** Called at load for what did not go as asked: a preferred provider that could not start (a later one is used), a nice value that could not be set. */
  onWarning?: (message: string) => void;
  /** Texts are cut to this many characters before tokenizing (bounds CPU on huge inputs). Default 20000. */
  maxTextChars?: number;
  /** ONNX Runtime's own native log level. Default 'fatal': provider failures reach onWarning instead. */
  ortLogLevel?: OrtLogLevel;

  // Supervision of the worker (README "Supervision"; defaults in SUPERVISION_DEFAULTS).
  /**
   * Limit on each predict/predictLogits/warmup call, from when the worker could start it (time
   * spent queued behind earlier calls is not counted). Past it the worker is replaced and the call
   * rejects with InferenceTimeoutError. 0: no limit.
   */
  inferenceTimeoutMs?: number;
  /** Limit on starting a worker (tokenizer, session, warm-up), at load and for each replacement. */
  startTimeoutMs?: number;
  /** Worker failures (death, timeout, failed start) in a row, with no call answered in between, after which the model gives up ('failed'). */
  maxConsecutiveFailures?: number;
  /** Replacement workers in a row that fail to start after which the model gives up ('failed'). */
  maxStartFailures?: number;
  /** Pause before trying again to start a replacement after one failed to start. */
  restartDelayMs?: number;
  /** A terminated worker whose thread has not ended after this long is stuck in native code: the model gives up ('failed'). */
  terminateTimeoutMs?: number;
  /** Called each time a replacement worker is started (before it is ready). */
  onRestart?: (event: RestartEvent) => void;
  /** Called once when the model gives up; every call from then on rejects with this error. */
  onFailed?: (error: ModelFailedError) => void;
  /**
   * Tests only: a call with a text from `faultText(kind)` makes the worker exit, throw, hang or
   * fail on it (protocol.ts). Never turn this on where untrusted texts arrive.
   */
  faultInjection?: boolean;
}

/**
 * The supervision defaults, and why (README "Supervision"). Figures: `npx tsx
 * libs/model/scripts/supervision.ts`, sst2-bilstm on 2 busy AMD EPYC cores (load average 7).
 */
export const SUPERVISION_DEFAULTS = Object.freeze({
  /**
   * 30 s: a call of 256 texts of 128 tokens (the scorer's default batch, every text at max_length)
   * took at most 0.8 s, so 30 s is ~40x that; 4,096 such texts (BATCH_MAX_SIZE's maximum) took
   * 9.6-12.5 s. A hung call holds its partitions this long before it is retried.
   */
  inferenceTimeoutMs: 30_000,
  /** 60 s: a CPU worker started in 1.3-1.6 s here; a GPU session builds kernels first and takes longer. */
  startTimeoutMs: 60_000,
  /**
   * 16: splitting a batch in halves to find one text that kills the worker costs one failure per
   * level, up to log2(4,096) + 1 = 13 in a row for the largest batch; a worker that dies on every
   * call, whatever the texts, is given up at its 16th failure (15 replacements, ~1 s each here).
   */
  maxConsecutiveFailures: 16,
  /** 3: what stops a worker from starting (model folder gone, GPU lost, out of memory) rarely clears in seconds. */
  maxStartFailures: 3,
  /** 1 s between failed starts: long enough not to spin on a broken environment, short next to a pod restart. */
  restartDelayMs: 1_000,
  /** 5 s: terminate() ends JavaScript within milliseconds; only a thread inside a native call outlives it. */
  terminateTimeoutMs: 5_000,
});

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
  /** The worker's supervision: state, restarts, failures in a row, last failure. */
  health(): ModelHealth;
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

function supervision(options: LoadOptions): SupervisionOptions {
  const out: Record<string, number> = {};
  for (const key of Object.keys(SUPERVISION_DEFAULTS) as (keyof typeof SUPERVISION_DEFAULTS)[]) {
    const value = options[key] ?? SUPERVISION_DEFAULTS[key];
    const min = key === 'inferenceTimeoutMs' || key === 'restartDelayMs' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min) throw new Error(`${key} must be an integer >= ${min}, got ${value}`);
    out[key] = value;
  }
  return { ...(out as typeof SUPERVISION_DEFAULTS), onRestart: options.onRestart, onFailed: options.onFailed };
}

/**
 * Loads a model folder (a path, or a name under the models folder): validates it, starts the
 * inference worker, picks the first execution provider that starts, and warms the session up.
 * Rejects with one clear error if the folder is invalid or no provider starts. The worker is
 * supervised from then on: see LoadOptions' supervision fields and Model.health().
 */
export async function loadModel(dirOrName: string, options: LoadOptions = {}): Promise<Model> {
  const providers = parseProviders(options.executionProviders ?? ['cpu']);
  const threads = options.intraOpThreads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 0)) {
    throw new Error(`intraOpThreads must be a non-negative integer, got ${threads}`);
  }
  const sessions = options.sessions ?? 1;
  if (!Number.isInteger(sessions) || sessions < 1 || sessions > 64) throw new Error(`sessions must be an integer from 1 to 64, got ${sessions}`);
  const nice = options.nice ?? 0;
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new Error(`nice must be an integer from 0 to 19, got ${nice}`);
  const supervise = supervision(options);
  const folder = await readModelFolder(dirOrName, options.modelsDir !== undefined ? { modelsDir: options.modelsDir } : {});
  const init: WorkerInit = {
    dir: folder.dir,
    modelPath: folder.modelPath,
    labels: folder.config.labels,
    maxLength: folder.config.maxLength,
    maxTextChars: options.maxTextChars ?? 20_000,
    providers,
    intraOpThreads: threads,
    // More sessions on the cpu provider only: a GPU runs a call's work in parallel itself.
    sessions: providers[0] === 'cpu' ? sessions : 1,
    nice,
    ortLogLevel: options.ortLogLevel ?? 'fatal',
    ...(options.faultInjection ? { faultState: new SharedArrayBuffer(8) } : {}),
  };
  const label = `model ${folder.config.name} (${folder.dir})`;
  if (sessions > 1 && providers[0] !== 'cpu') options.onWarning?.(`${label}: ${sessions} sessions apply to the cpu provider; ${providers[0]} runs one`);
  const workerName = options.faultInjection ? 'fault-worker' : 'inference-worker';
  const { handle, ready } = startInferenceWorker(workerName, init, supervise.startTimeoutMs, null);
  let started: Awaited<typeof ready>;
  try {
    started = await ready;
  } catch (err) {
    // Bounded: a worker stuck in a native call would never finish terminating.
    await Promise.race([handle.worker.terminate(), new Promise((resolve) => setTimeout(resolve, supervise.terminateTimeoutMs).unref())]);
    throw new Error(`model folder ${folder.dir}: ${(err as Error).message}`);
  }
  for (const warning of started.warnings) options.onWarning?.(`${label}: ${warning}`);
  if (started.failures.length > 0) {
    const detail = started.failures.map((f) => `${f.provider}: ${f.error}`).join('; ');
    options.onWarning?.(`${label}: execution provider${started.failures.length > 1 ? 's' : ''} ${started.failures.map((f) => f.provider).join(', ')} could not start, using ${started.provider} (${detail})`);
  }
  // Replacements use the provider this worker settled on: no second fallback warning, and
  // info.provider stays true.
  const supervisor = new ModelSupervisor(handle, { name: folder.config.name, label, workerName, init: { ...init, providers: [started.provider] } }, supervise);
  return new WorkerModel(folder, started.provider, supervisor);
}

class WorkerModel implements Model {
  readonly info: ModelInfo;

  constructor(
    folder: ModelFolder,
    provider: ProviderName,
    private readonly supervisor: ModelSupervisor,
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
    // A replacement worker repeats the largest warm-up before it takes calls.
    this.supervisor.rememberWarmup(batchSize);
    return (await this.run(Array.from({ length: batchSize }, () => 'warm up'))).timings;
  }

  health(): ModelHealth {
    return this.supervisor.health();
  }

  close(): Promise<void> {
    return this.supervisor.close();
  }

  private async run(texts: readonly string[]): Promise<{ logits: Float32Array; timings: Timings }> {
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
      throw new TypeError(`model ${this.info.name}: predict() takes an array of strings`);
    }
    this.supervisor.assertUsable();
    if (texts.length === 0) {
      return { logits: new Float32Array(0), timings: { queueMs: 0, tokenizeMs: 0, inferenceMs: 0, totalMs: 0, batchSize: 0, seqLen: 0 } };
    }
    const sentAt = nowMs();
    const res: RunReply = await this.supervisor.run([...texts], sentAt);
    return { logits: res.logits, timings: { ...res.timings, totalMs: nowMs() - sentAt } };
  }
}
