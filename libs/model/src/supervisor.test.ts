/**
 * The supervised model against the real sst2-bilstm folder, real ONNX Runtime and real worker
 * threads. Faults are injected inside the worker (fault-worker.ts, LoadOptions.faultInjection)
 * when its ONNX Runtime run reaches the call holding a fault text, so each one hits that call.
 * Nothing here passes on timing: every wait ends on an event (a rejection, a restart, a FIFO).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InferenceError,
  InferenceTimeoutError,
  isRetriable,
  ModelClosedError,
  ModelFailedError,
  WorkerRestartedError,
} from './errors.js';
import { loadModel, type LoadOptions, type Model } from './model.js';
import { defaultModelsDir, readModelFolder } from './model-folder.js';
import { faultText, type WorkerInit } from './protocol.js';
import { startInferenceWorker, type RestartEvent } from './supervisor.js';

const MODEL = 'sst2-bilstm';
const modelsDir = process.env.MODELS_DIR ?? defaultModelsDir() ?? undefined;
// One inference thread per worker keeps the machine usable and the thread count exact.
const base: LoadOptions = { modelsDir, intraOpThreads: 1, faultInjection: true };
const tmp = mkdtempSync(path.join(tmpdir(), 'model-supervisor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Threads of this process (vitest runs each test file in its own process). */
const threads = () => readdirSync('/proc/self/task').length;
/**
 * Threads with no model open, once one has been loaded and closed: the first load also starts
 * threads that stay for the life of the process (libuv's pool, one of ONNX Runtime's).
 */
let idleThreads = 0;

beforeAll(async () => {
  // Also the proof that fault texts are ordinary texts unless faultInjection is on.
  const plain = await loadModel(MODEL, { modelsDir, intraOpThreads: 1 });
  const { predictions } = await plain.predict([faultText('exit'), faultText('hang')]);
  expect(predictions).toHaveLength(2);
  expect(plain.health()).toMatchObject({ state: 'ok', restarts: 0 });
  await plain.close();
  idleThreads = threads();
});

/** Awaits a promise that must reject, and returns the error. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, got a result');
}

describe('a supervised model: a dead or hung worker is replaced, its calls reject with retriable errors', () => {
  const restarts: RestartEvent[] = [];
  let model: Model;

  it('loads, answers and reports ok', async () => {
    model = await loadModel(MODEL, { ...base, inferenceTimeoutMs: 1_000, onRestart: (e) => restarts.push(e) });
    expect((await model.predict(['a great film'])).predictions).toHaveLength(1);
    expect(model.health()).toEqual({ state: 'ok', restarts: 0, consecutiveFailures: 0, lastError: null, stuckWorkers: 0 });
  });

  it('a worker that exits mid-call: that call and the one queued behind it reject retriable; calls made meanwhile wait for the fresh worker', async () => {
    const dying = model.predict(['fine', faultText('exit')]);
    const queued = model.predictLogits(['queued behind it']);
    const err = await rejection(dying);
    expect(err).toBeInstanceOf(WorkerRestartedError);
    expect(err).not.toBeInstanceOf(InferenceTimeoutError);
    expect(err).toMatchObject({ retriable: true, reason: 'worker exited (code 86)', model: 'sst2-bilstm' });
    expect(err.message).toMatch(/^model sst2-bilstm \(.*\): worker exited \(code 86\); the worker is being replaced/);
    expect(isRetriable(err)).toBe(true);
    // The call it was running is the suspect; the one queued behind it is not (the pipeline retries it whole).
    expect(err).toMatchObject({ running: true });
    const behind = await rejection(queued);
    expect(behind).toBeInstanceOf(WorkerRestartedError);
    expect(behind).toMatchObject({ retriable: true, running: false });
    expect(behind.message).toMatch(/\(it was queued behind the call the worker was running\)$/);
    expect(model.health().state).toBe('restarting');
    const during = model.predict(['made while the replacement starts', 'a dreadful film']);
    expect((await during).predictions.map((p) => p.label)).toEqual([expect.any(String), 'negative']);
    expect(model.health()).toEqual({ state: 'ok', restarts: 1, consecutiveFailures: 0, lastError: 'worker exited (code 86)', stuckWorkers: 0 });
    expect(restarts).toEqual([{ restarts: 1, consecutiveFailures: 1, reason: 'worker exited (code 86)' }]);
  });

  it('a worker that throws an uncaught error: the call rejects retriable, the next succeeds', async () => {
    const err = await rejection(model.predict([faultText('throw')]));
    expect(err).toBeInstanceOf(WorkerRestartedError);
    expect(err).toMatchObject({ retriable: true, reason: 'worker failed: injected uncaught error' });
    expect((await model.predict(['a wonderful film'])).predictions[0]!.label).toBe('positive');
    expect(model.health()).toMatchObject({ state: 'ok', restarts: 2, consecutiveFailures: 0 });
  });

  it('a hung call: InferenceTimeoutError after the limit, the worker is replaced, the next call succeeds', async () => {
    const sent = performance.now();
    const hung = model.predict(['fine', faultText('hang')]);
    const queued = model.predict(['queued behind it']);
    const err = await rejection(hung);
    const waited = performance.now() - sent;
    expect(err).toBeInstanceOf(InferenceTimeoutError);
    expect(err).toBeInstanceOf(WorkerRestartedError); // one instanceof covers both
    expect(err).toMatchObject({ retriable: true, timeoutMs: 1_000 });
    expect(err.message).toMatch(/no answer within 1000 ms \(inferenceTimeoutMs\); the worker was terminated and is being replaced/);
    // Never early (timers may round down by a millisecond); no upper bound: the test ending is the proof.
    expect(waited).toBeGreaterThanOrEqual(999);
    const other = await rejection(queued);
    expect(other).toBeInstanceOf(WorkerRestartedError);
    expect(other).not.toBeInstanceOf(InferenceTimeoutError);
    expect(other).toMatchObject({ reason: 'a call took longer than 1000 ms (inferenceTimeoutMs)' });
    expect((await model.predict(['a wonderful film'])).predictions[0]!.label).toBe('positive');
    expect(model.health()).toMatchObject({ state: 'ok', restarts: 3, consecutiveFailures: 0 });
  });

  it('a tokenizer stage that dies fails only the call it was tokenizing; the worker stays, a new stage takes the calls behind it', async () => {
    const before = model.health();
    const dying = model.predict(['fine', faultText('tokenizer-exit')]);
    const behind = model.predict(['a dreadful film']);
    const err = await rejection(dying);
    expect(err).toBeInstanceOf(InferenceError);
    expect(err.message).toMatch(/^model sst2-bilstm \(.*\): the tokenizer thread exited \(code 87\) while tokenizing this call$/);
    expect((await behind).predictions[0]!.label).toBe('negative');
    expect(model.health()).toMatchObject({ state: 'ok', restarts: before.restarts, consecutiveFailures: 0 });
  });

  it("the model's own error stays InferenceError, not retriable, with no restart; bisecting finds the text that fails alone", async () => {
    const texts = ['fine', faultText('error'), 'a dreadful film'];
    const err = await rejection(model.predict(texts));
    expect(err).toBeInstanceOf(InferenceError);
    expect(err).not.toBeInstanceOf(WorkerRestartedError);
    expect(err).toMatchObject({ retriable: false });
    expect(err.message).toMatch(/^model sst2-bilstm \(.*\): injected inference error$/);
    expect(isRetriable(err)).toBe(false);
    const alone = await Promise.allSettled(texts.map((t) => model.predict([t])));
    expect(alone.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(model.health()).toMatchObject({ state: 'ok', restarts: 3 });
  });

  it('a worker killed once: retrying the same batch succeeds', async () => {
    const texts = ['fine', faultText('exit-once'), 'a dreadful film'];
    expect(await rejection(model.predict(texts))).toBeInstanceOf(WorkerRestartedError);
    expect((await model.predict(texts)).predictions).toHaveLength(3);
    expect(model.health()).toMatchObject({ state: 'ok', restarts: 4, consecutiveFailures: 0 });
  });

  it('close() during a restart rejects the waiting call, ends every worker thread, and later calls reject at once', async () => {
    expect(await rejection(model.predict([faultText('exit')]))).toBeInstanceOf(WorkerRestartedError);
    expect(model.health().state).toBe('restarting');
    const waiting = model.predict(['waits for the replacement']);
    const closed = model.close();
    const err = await rejection(waiting);
    expect(err).toBeInstanceOf(ModelClosedError);
    expect(err).toMatchObject({ retriable: false });
    await closed;
    await model.close(); // idempotent
    expect(model.health()).toMatchObject({ state: 'closed', restarts: 5 });
    await expect(model.predict(['late'])).rejects.toBeInstanceOf(ModelClosedError);
    await expect(model.predict([])).rejects.toThrow('model sst2-bilstm is closed');
    // Five replacements later, no worker thread is left.
    expect(threads()).toBe(idleThreads);
    expect(restarts).toHaveLength(5);
  });
});

describe('giving up', () => {
  it('after maxConsecutiveFailures worker failures with no call answered in between: failed, not retriable, onFailed once', async () => {
    const failed: ModelFailedError[] = [];
    const model = await loadModel(MODEL, { ...base, maxConsecutiveFailures: 2, onFailed: (e) => failed.push(e) });
    try {
      expect(await rejection(model.predict([faultText('exit')]))).toBeInstanceOf(WorkerRestartedError);
      // An answer, even the model's own error, shows the worker works: the count starts again.
      expect(await rejection(model.predict([faultText('error')]))).toBeInstanceOf(InferenceError);
      expect(model.health()).toMatchObject({ state: 'ok', restarts: 1, consecutiveFailures: 0 });
      expect(await rejection(model.predict([faultText('exit')]))).toBeInstanceOf(WorkerRestartedError);
      expect(model.health()).toMatchObject({ restarts: 2, consecutiveFailures: 1 });
      const last = await rejection(model.predict([faultText('exit')]));
      expect(last).toBeInstanceOf(ModelFailedError);
      expect(last).toMatchObject({ retriable: false });
      expect(last.message).toMatch(/gave up on the inference worker: 2 worker failures in a row with no call answered \(maxConsecutiveFailures\); last: worker exited \(code 86\)$/);
      expect(model.health()).toEqual({ state: 'failed', restarts: 2, consecutiveFailures: 2, lastError: 'worker exited (code 86)', stuckWorkers: 0 });
      expect(failed).toEqual([last]);
      expect(await rejection(model.predict(['fine']))).toBe(last);
    } finally {
      await model.close();
    }
  });

  it('after maxStartFailures replacements in a row that cannot start; calls waiting for one reject with ModelFailedError', async () => {
    const dir = path.join(tmp, 'vanishing');
    cpSync(path.join(modelsDir!, MODEL), dir, { recursive: true });
    const restarts: RestartEvent[] = [];
    const model = await loadModel(dir, { ...base, maxStartFailures: 2, restartDelayMs: 10, onRestart: (e) => restarts.push(e) });
    try {
      writeFileSync(path.join(dir, 'model.onnx'), 'no longer a model'); // what a replacement will load
      expect(await rejection(model.predict([faultText('exit')]))).toBeInstanceOf(WorkerRestartedError);
      const err = await rejection(model.predict(['waits for a replacement that never comes']));
      expect(err).toBeInstanceOf(ModelFailedError);
      expect(err.message).toMatch(/gave up on the inference worker: 2 replacement workers in a row could not start \(maxStartFailures\); last: no execution provider could start: cpu: /);
      expect(model.health()).toMatchObject({ state: 'failed', restarts: 2, consecutiveFailures: 3 });
      expect(model.health().lastError).toMatch(/^replacement worker could not start: /);
      expect(restarts.map((r) => r.reason)).toEqual(['worker exited (code 86)', expect.stringMatching(/^replacement worker could not start: /)]);
    } finally {
      await model.close();
    }
  });

  it('when a terminated worker stays stuck in a native call: failed, stuckWorkers 1; close() returns once it ends', async () => {
    const fifo = path.join(tmp, 'release');
    execFileSync('mkfifo', [fifo]);
    let onFailed: (e: ModelFailedError) => void = () => undefined;
    const gaveUp = new Promise<ModelFailedError>((resolve) => (onFailed = resolve));
    const model = await loadModel(MODEL, { ...base, inferenceTimeoutMs: 300, terminateTimeoutMs: 300, onFailed });
    try {
      const err = await rejection(model.predict([faultText('block', fifo)]));
      expect(err).toBeInstanceOf(InferenceTimeoutError);
      const failure = await gaveUp;
      expect(failure.message).toMatch(/a terminated worker's thread has not ended after 300 ms \(stuck in native code\); only ending the process frees it$/);
      expect(model.health()).toMatchObject({ state: 'failed', stuckWorkers: 1 });
      expect(await rejection(model.predict(['fine']))).toBe(failure);
    } finally {
      // Opening the FIFO for writing ends the worker's blocking open(); as soon as JavaScript runs
      // again in that thread, the pending termination ends it.
      await (await open(fifo, 'w')).close();
      await model.close();
    }
    expect(model.health()).toMatchObject({ state: 'closed', stuckWorkers: 0 });
    expect(threads()).toBe(idleThreads);
  });
});

it('with two sessions: an exit and a hang each replace the worker with its session thread, and no thread is left behind', async () => {
  const model = await loadModel(MODEL, { ...base, sessions: 2, inferenceTimeoutMs: 1_000 });
  try {
    // Enough rows that the session thread has a share of each call, and is in its run when the
    // worker exits: while the worker started its session threads, their teardown mid-run aborted
    // the whole process ("terminate called after throwing an instance of 'Napi::Error'").
    const rows = ['fine', 'a long and winding sentence about a film', 'ok', 'meh'];
    expect(await rejection(model.predict([...rows, faultText('exit')]))).toMatchObject({ retriable: true, reason: 'worker exited (code 86)' });
    expect(await rejection(model.predict([...rows, faultText('hang')]))).toBeInstanceOf(InferenceTimeoutError);
    expect((await model.predict(['a wonderful film', 'a dreadful film', ...rows])).predictions.slice(0, 2).map((p) => p.label)).toEqual(['positive', 'negative']);
    expect(model.health()).toMatchObject({ state: 'ok', restarts: 2, consecutiveFailures: 0 });
  } finally {
    await model.close();
  }
  expect(threads()).toBe(idleThreads);
});

it("a replacement runs the caller's warm-up before it is ready (a failing warm-up is a failed start)", async () => {
  const folder = await readModelFolder(MODEL, { modelsDir });
  const init: WorkerInit = {
    dir: folder.dir,
    modelPath: folder.modelPath,
    labels: folder.config.labels,
    maxLength: folder.config.maxLength,
    maxTextChars: 20_000,
    providers: ['cpu'],
    intraOpThreads: 1,
    sessions: 1,
    nice: 0,
    ortLogLevel: 'fatal',
  };
  const { handle, ready } = startInferenceWorker('fault-worker', init, 60_000, ['warm up', faultText('error')]);
  await expect(ready).rejects.toThrow('warm-up failed: injected inference error');
  await handle.worker.terminate();
  expect(handle.hasExited()).toBe(true);
});

/** Nice value of each thread of this process (Linux keeps it per thread: /proc/self/task/<tid>/stat field 19). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return []; // the thread ended between the listing and the read
    }
  });
}

it("runs the inference side's threads (worker, tokenizer, session thread, ONNX Runtime's pools) at the nice value asked for, and no other", async () => {
  const before = threadNices().filter((n) => n === 7).length;
  const model = await loadModel(MODEL, { modelsDir, intraOpThreads: 2, sessions: 2, nice: 7 });
  try {
    // The worker's thread, its tokenizer thread, its session thread, and each session's second intra-op thread at least.
    expect(threadNices().filter((n) => n === 7).length - before).toBeGreaterThanOrEqual(5);
    expect(threadNices().filter((n) => n === 0).length).toBeGreaterThan(0);
    expect((await model.predict(['a fine film'])).predictions).toHaveLength(1);
  } finally {
    await model.close();
  }
});

it('rejects a bad supervision option before starting anything, naming it', async () => {
  await expect(loadModel(MODEL, { ...base, inferenceTimeoutMs: -1 })).rejects.toThrow('inferenceTimeoutMs must be an integer >= 0, got -1');
  await expect(loadModel(MODEL, { ...base, maxConsecutiveFailures: 0 })).rejects.toThrow('maxConsecutiveFailures must be an integer >= 1, got 0');
  await expect(loadModel(MODEL, { ...base, nice: 20 })).rejects.toThrow('nice must be an integer from 0 to 19, got 20');
  await expect(loadModel(MODEL, { ...base, sessions: 0 })).rejects.toThrow('sessions must be an integer from 1 to 64, got 0');
});
