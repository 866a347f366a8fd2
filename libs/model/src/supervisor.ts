/**
 * Supervision of the inference worker: a time limit on each call, replacement of a worker that
 * died or hung, typed errors for the calls it took down, and giving up when replacing does not help.
 * README.md ("Supervision") explains the rules and the defaults.
 */
import { MessageChannel, type Worker } from 'node:worker_threads';
import { InferenceError, InferenceTimeoutError, ModelClosedError, ModelFailedError, WorkerRestartedError } from './errors.js';
import type { FromWorker, SessionThreadInit, Timings, ToSessionThreadControl, ToWorker, WorkerInit } from './protocol.js';
import { WorkerClient } from './worker-client.js';
import { startWorker } from './worker-entry.js';

export interface SupervisionOptions {
  /** Limit on each call, from when the worker could start it (not counting calls queued before it). 0: none. */
  inferenceTimeoutMs: number;
  /** Limit on starting a worker: tokenizer, session, warm-up. */
  startTimeoutMs: number;
  /** Worker failures (death, timeout, failed start) with no call answered in between that make the supervisor give up. */
  maxConsecutiveFailures: number;
  /** Failed starts of a replacement in a row that make the supervisor give up. */
  maxStartFailures: number;
  /** Pause before starting a replacement again after one failed to start. */
  restartDelayMs: number;
  /** A terminated worker whose thread has not ended after this long is stuck in native code: give up. */
  terminateTimeoutMs: number;
  onRestart?: (event: RestartEvent) => void;
  onFailed?: (error: ModelFailedError) => void;
}

export interface RestartEvent {
  /** Replacement workers started so far, this one included. */
  restarts: number;
  consecutiveFailures: number;
  /** Why: "worker exited (code 1)", "a call took longer than 30000 ms (inferenceTimeoutMs)", "replacement worker could not start: ...". */
  reason: string;
}

export interface ModelHealth {
  /** ok: a worker is ready; restarting: a replacement is starting (calls wait); failed: gave up (calls reject); closed. */
  state: 'ok' | 'restarting' | 'failed' | 'closed';
  /** Replacement workers started since load (failed starts included). */
  restarts: number;
  /** Worker failures since the last call a worker answered. */
  consecutiveFailures: number;
  /** The last worker failure, or null. */
  lastError: string | null;
  /** Terminated workers whose thread has not ended within terminateTimeoutMs (stuck in native code). */
  stuckWorkers: number;
}

export type RunReply = { logits: Float32Array; timings: Omit<Timings, 'totalMs'> };
type Ready = Extract<FromWorker, { type: 'ready' }>;

/** A started worker, and whether its thread (and its session threads') have ended. */
export interface WorkerHandle {
  worker: Worker;
  /** The worker's exit code, once the worker and its session threads have all ended. */
  exited: Promise<number>;
  hasExited(): boolean;
}

/**
 * The worker's `sessions - 1` session threads, started here on the main thread rather than by the
 * worker: a thread started by the worker would be torn down with it, and one torn down while in an
 * ONNX Runtime run aborts the whole process when the run returns (onnxruntime-node throws a C++
 * exception into a terminating isolate). Started here, a session thread outlives a worker that
 * dies: told to close, it finishes the run in progress and ends by itself. Each talks to its worker
 * over a MessageChannel whose other end goes to the worker.
 */
function startSessionThreads(init: WorkerInit): { threads: Worker[]; ports: MessageChannel['port1'][] } {
  const threads: Worker[] = [];
  const ports: MessageChannel['port1'][] = [];
  for (let i = 1; i < init.sessions; i++) {
    const { port1, port2 } = new MessageChannel();
    const data: SessionThreadInit = { modelPath: init.modelPath, intraOpThreads: init.intraOpThreads, ortLogLevel: init.ortLogLevel, classes: init.labels.length, nice: init.nice, port: port2 };
    const thread = startWorker('session-thread', { workerData: data, transferList: [port2] });
    // Its worker holds the event loop while calls are pending; this thread never needs to.
    thread.unref();
    threads.push(thread);
    ports.push(port1);
  }
  return { threads, ports };
}

/**
 * Starts an inference worker and resolves when it is ready (session created, warmed up) and, when
 * `warmupTexts` is given, has also run them once. Rejects with the cause ("worker exited during load
 * (code 1)", the worker's own fatal error, ...) and leaves terminating the worker to the caller.
 */
export function startInferenceWorker(
  workerName: string,
  init: WorkerInit,
  timeoutMs: number,
  warmupTexts: string[] | null,
): { handle: WorkerHandle; ready: Promise<Ready> } {
  const sessions = startSessionThreads(init);
  const worker = startWorker(workerName, { workerData: { ...init, sessionPorts: sessions.ports }, transferList: sessions.ports });
  const threadsEnded = sessions.threads.map((t) => new Promise<void>((resolve) => t.once('exit', () => resolve())));
  let exited = false;
  const exitedPromise = new Promise<number>((resolve) => {
    worker.once('exit', (code) => {
      // Its session threads end after the run they may be in (never terminated mid-run).
      for (const t of sessions.threads) t.postMessage({ type: 'close' } satisfies ToSessionThreadControl);
      void Promise.all(threadsEnded).then(() => {
        exited = true;
        resolve(code);
      });
    });
  });
  const handle: WorkerHandle = { worker, exited: exitedPromise, hasExited: () => exited };
  const ready = new Promise<Ready>((resolve, reject) => {
    let started: Ready | null = null;
    const timer = setTimeout(() => done(new Error(`worker did not start within ${timeoutMs} ms (startTimeoutMs)`)), timeoutMs);
    const onMessage = (msg: FromWorker) => {
      if (msg.type === 'fatal') return done(new Error(msg.error));
      if (msg.type === 'ready') {
        started = msg;
        if (!warmupTexts) return done(null);
        worker.postMessage({ type: 'run', id: 0, texts: warmupTexts, sentAt: 0 } satisfies ToWorker);
        return;
      }
      if (msg.type === 'result' && msg.id === 0) return done(null);
      if (msg.type === 'error' && msg.id === 0) return done(new Error(`warm-up failed: ${msg.error}`));
    };
    const onError = (err: Error) => done(new Error(`worker failed to start: ${err.message}`));
    const onExit = (code: number) => done(new Error(`worker exited during load (code ${code})`));
    const done = (err: Error | null) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      worker.unref();
      if (err) reject(err);
      else resolve(started!);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    // Nothing else may hold the event loop while the caller awaits this.
    worker.ref();
  });
  return { handle, ready };
}

interface Waiting {
  texts: string[];
  sentAt: number;
  resolve: (r: RunReply) => void;
  reject: (e: Error) => void;
}

/** How long close() lets calls already made finish before it terminates the worker. */
const CLOSE_TIMEOUT_MS = 5_000;

export class ModelSupervisor {
  private state: ModelHealth['state'] = 'ok';
  private current: { client: WorkerClient<RunReply>; handle: WorkerHandle } | null = null;
  /** Calls made while no worker is ready; sent in order once one is. */
  private readonly waiting: Waiting[] = [];
  private restarts = 0;
  private consecutiveFailures = 0;
  private startFailures = 0;
  private lastError: string | null = null;
  /** Terminated workers whose thread has not ended yet, and the timers that call them stuck. */
  private readonly retired = new Map<WorkerHandle, { timer: NodeJS.Timeout; stuck: boolean }>();
  private starting: WorkerHandle | null = null;
  private delayTimer: NodeJS.Timeout | null = null;
  private failure: ModelFailedError | null = null;
  private closing: Promise<void> | null = null;
  private warmupBatch = 0;

  constructor(
    first: WorkerHandle,
    private readonly spec: {
      /** config.json's name, for the errors' `model` field. */
      name: string;
      /** Prefix of every message: "model <name> (<dir>)". */
      label: string;
      workerName: string;
      /** What replacement workers start with (the provider the first one settled on). */
      init: WorkerInit;
    },
    private readonly options: SupervisionOptions,
  ) {
    this.adopt(first);
  }

  /** Throws ModelClosedError after close(), the ModelFailedError after giving up. */
  assertUsable(): void {
    if (this.closing) throw new ModelClosedError(`model ${this.spec.name} is closed`, this.spec.name);
    if (this.failure) throw this.failure;
  }

  /** Runs `texts` on the worker; while a replacement starts, waits for it. */
  run(texts: string[], sentAt: number): Promise<RunReply> {
    try {
      this.assertUsable();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (this.current) return this.send(this.current.client, texts, sentAt);
    return new Promise((resolve, reject) => this.waiting.push({ texts, sentAt, resolve, reject }));
  }

  /** Replacement workers run `batchSize` short texts once before they take calls (the largest asked for so far). */
  rememberWarmup(batchSize: number): void {
    this.warmupBatch = Math.max(this.warmupBatch, batchSize);
  }

  health(): ModelHealth {
    let stuck = 0;
    for (const r of this.retired.values()) if (r.stuck) stuck++;
    return { state: this.state, restarts: this.restarts, consecutiveFailures: this.consecutiveFailures, lastError: this.lastError, stuckWorkers: stuck };
  }

  /**
   * Lets the calls already sent finish (up to CLOSE_TIMEOUT_MS), stops the worker, rejects calls
   * waiting for a replacement. Resolves once the worker's thread has ended, or terminateTimeoutMs
   * after terminating it if it is stuck in native code. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.state = 'closed';
    this.clearDelay();
    this.rejectWaiting(new ModelClosedError(`model ${this.spec.name} is closed`, this.spec.name));
    if (this.starting) this.retire(this.starting);
    const current = this.current;
    if (current) {
      current.handle.worker.ref();
      current.handle.worker.postMessage({ type: 'close' } satisfies ToWorker);
      // The worker answers the calls sent before `close`, then exits by itself.
      if (!(await settlesWithin(current.handle.exited, CLOSE_TIMEOUT_MS))) {
        this.lost(current.client, `calls did not finish within ${CLOSE_TIMEOUT_MS} ms of close()`);
      }
    }
    // Terminated workers end at once unless stuck in native code; do not wait for ever on those.
    await settlesWithin(Promise.all([...this.retired.keys()].map((h) => h.exited)), this.options.terminateTimeoutMs);
  }

  private send(client: WorkerClient<RunReply>, texts: string[], sentAt: number): Promise<RunReply> {
    return client.request((id) => ({ message: { type: 'run', id, texts, sentAt } satisfies ToWorker }));
  }

  private adopt(handle: WorkerHandle): void {
    const { worker } = handle;
    const client: WorkerClient<RunReply> = new WorkerClient<RunReply>(worker, {
      timeoutMs: this.options.inferenceTimeoutMs,
      onTimeout: (id) => this.lost(client, `a call took longer than ${this.options.inferenceTimeoutMs} ms (inferenceTimeoutMs)`, id),
    });
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'result') {
        this.answered(client);
        client.resolve(msg.id, { logits: msg.logits, timings: msg.timings });
      } else if (msg.type === 'error') {
        this.answered(client);
        client.reject(msg.id, new InferenceError(`${this.spec.label}: ${msg.error}`, this.spec.name));
      }
    });
    worker.on('error', (err) => this.lost(client, `worker failed: ${err.message}`));
    worker.on('exit', (code) => this.lost(client, `worker exited (code ${code})`));
    this.current = { client, handle };
  }

  /** A worker that answers (a result or the model's own error) works: the failures in a row end. */
  private answered(client: WorkerClient<RunReply>): void {
    if (this.current?.client === client) this.consecutiveFailures = 0;
  }

  /**
   * The current worker is gone or must go (`timedOut`: the id of the call that ran past the limit).
   * Rejects its calls, terminates it, and starts a replacement unless closing or given up.
   */
  private lost(client: WorkerClient<RunReply>, reason: string, timedOut?: number): void {
    if (this.current?.client !== client) return;
    const handle = this.current.handle;
    this.current = null;
    const { name, label } = this.spec;
    const closing = this.closing !== null;
    const counts = !closing && !this.failure;
    if (counts) {
      this.lastError = reason;
      this.consecutiveFailures++;
    }
    // Giving up now: the calls taken down get the final answer, not an invitation to retry.
    const givingUp = counts && this.consecutiveFailures >= this.options.maxConsecutiveFailures;
    if (givingUp) this.failure = this.failedError(`${this.consecutiveFailures} worker failures in a row with no call answered (maxConsecutiveFailures); last: ${reason}`);
    const running = client.headId;
    client.fail((id) => {
      if (this.failure) return this.failure;
      if (id === timedOut) {
        return new InferenceTimeoutError(
          `${label}: no answer within ${this.options.inferenceTimeoutMs} ms (inferenceTimeoutMs); the worker was terminated${closing ? '' : ' and is being replaced'}`,
          name,
          this.options.inferenceTimeoutMs,
        );
      }
      if (closing) return new ModelClosedError(`${label}: closed before this call was answered (${reason})`, name);
      const queued = id !== running && id !== 0;
      return new WorkerRestartedError(`${label}: ${reason}; the worker is being replaced and this call was not answered${queued ? ' (it was queued behind the call the worker was running)' : ''}`, name, reason, !queued);
    });
    this.retire(handle);
    if (givingUp) return this.giveUp(this.failure!);
    if (!counts) return;
    this.state = 'restarting';
    this.startReplacement(reason);
  }

  private startReplacement(reason: string): void {
    this.restarts++;
    const warmup = this.warmupBatch > 0 ? Array.from({ length: this.warmupBatch }, () => 'warm up') : null;
    const { handle, ready } = startInferenceWorker(this.spec.workerName, this.spec.init, this.options.startTimeoutMs, warmup);
    this.starting = handle;
    ready.then(
      () => {
        if (this.starting !== handle) return; // closed or given up meanwhile; already retired
        this.starting = null;
        this.startFailures = 0;
        this.adopt(handle);
        this.state = 'ok';
        const client = this.current!.client;
        for (const w of this.waiting.splice(0)) this.send(client, w.texts, w.sentAt).then(w.resolve, w.reject);
      },
      (err: Error) => {
        if (this.starting !== handle) return;
        this.starting = null;
        this.retire(handle);
        const why = `replacement worker could not start: ${err.message}`;
        this.lastError = why;
        this.startFailures++;
        this.consecutiveFailures++;
        if (this.startFailures >= this.options.maxStartFailures) {
          return this.giveUp(this.failedError(`${this.startFailures} replacement workers in a row could not start (maxStartFailures); last: ${err.message}`));
        }
        if (this.consecutiveFailures >= this.options.maxConsecutiveFailures) {
          return this.giveUp(this.failedError(`${this.consecutiveFailures} worker failures in a row with no call answered (maxConsecutiveFailures); last: ${why}`));
        }
        this.delayTimer = setTimeout(() => {
          this.delayTimer = null;
          this.startReplacement(why);
        }, this.options.restartDelayMs);
      },
    );
    this.options.onRestart?.({ restarts: this.restarts, consecutiveFailures: this.consecutiveFailures, reason });
  }

  /** Terminates a worker and watches that its thread ends; one that does not is stuck in native code. */
  private retire(handle: WorkerHandle): void {
    if (this.starting === handle) this.starting = null;
    if (handle.hasExited() || this.retired.has(handle)) return;
    const entry = {
      stuck: false,
      timer: setTimeout(() => {
        entry.stuck = true;
        // terminate() stops JavaScript at once, but not a native call (ONNX Runtime's run): the
        // thread, its memory and maybe a core stay taken until the process ends. Only a restart of
        // the process gets them back, so say so rather than pile up more of them.
        if (!this.closing && !this.failure) {
          this.lastError = `a terminated worker's thread has not ended after ${this.options.terminateTimeoutMs} ms (stuck in native code)`;
          this.giveUp(this.failedError(`${this.lastError}; only ending the process frees it`));
        }
      }, this.options.terminateTimeoutMs).unref(),
    };
    this.retired.set(handle, entry);
    void handle.exited.then(() => {
      clearTimeout(entry.timer);
      this.retired.delete(handle);
    });
    handle.worker.unref();
    void handle.worker.terminate();
  }

  private failedError(reason: string): ModelFailedError {
    return new ModelFailedError(`${this.spec.label}: gave up on the inference worker: ${reason}`, this.spec.name);
  }

  private giveUp(failure: ModelFailedError): void {
    this.state = 'failed';
    this.failure = failure;
    this.clearDelay();
    if (this.starting) this.retire(this.starting);
    if (this.current) {
      const { client, handle } = this.current;
      this.current = null;
      client.fail(this.failure);
      this.retire(handle);
    }
    this.rejectWaiting(this.failure);
    this.options.onFailed?.(this.failure);
  }

  private rejectWaiting(err: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  private clearDelay(): void {
    if (this.delayTimer) clearTimeout(this.delayTimer);
    this.delayTimer = null;
  }
}

/** Whether `promise` settled within `ms`; the timer is cleared either way. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
