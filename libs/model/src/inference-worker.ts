/**
 * The inference worker: owns the ONNX Runtime session of one model folder, and the tokenizer stage
 * (tokenize-worker.ts, a thread of its own) that prepares its ids. onnxruntime-node's `session.run`
 * blocks the thread it runs on for the whole inference, so it runs here and the caller's event loop
 * (Kafka heartbeats) stays free. Each call is handed to the tokenizer stage as soon as it arrives and
 * run in ONNX Runtime once its rows are back, one at a time in arrival order: while call k runs, call
 * k + 1 is being tokenized. A call's runs are shared between the worker's own session and its
 * session threads (session-thread.ts; the main thread starts them and hands this worker a channel to
 * each), which run at the same time. A `close` message is handled after the calls sent before it.
 */
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import path from 'node:path';
import { parentPort, workerData, type MessagePort, type Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { packBatch, shareRuns, subBatches } from './encode.js';
import { parseWindowStride } from './model-folder.js';
import {
  nowMs,
  type FromSessionThread,
  type FromTokenizer,
  type FromWorker,
  type PackedRun,
  type ProviderName,
  type TokenizerInit,
  type ToSessionThread,
  type ToTokenizer,
  type ToWorker,
  type WorkerInit,
} from './protocol.js';
import { createSession, firstLine, runPacked } from './session.js';
import { startWorker } from './worker-entry.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

/** Rows of one call, as the tokenizer stage sends them (protocol.ts FromTokenizer). */
type Rows = Extract<FromTokenizer, { type: 'rows' }>;

/**
 * The tokenizer stage seen from here: calls are sent as they arrive and answered in order. If its
 * thread dies, the call it was tokenizing fails with an error naming it (the caller splits that batch
 * to find the text, as for any failure of the model on some texts), a new thread is started and the
 * calls behind it are sent again; a thread that cannot start again ends this worker.
 */
class TokenizerStage {
  private worker: Worker | null = null;
  /** In the order sent, which is the order the thread answers in. */
  private readonly pending = new Map<number, { texts: string[]; resolve: (r: Rows) => void; reject: (e: Error) => void }>();
  private closing = false;
  padId = 0;

  constructor(private readonly init: TokenizerInit) {}

  /** Starts the thread; rejects with the tokenizer's own error when it cannot load. */
  async start(): Promise<void> {
    const worker = startWorker('tokenize-worker', { workerData: this.init });
    let lastError = '';
    this.padId = await new Promise<number>((resolve, reject) => {
      worker.once('message', (msg: FromTokenizer) => (msg.type === 'ready' ? resolve(msg.padId) : reject(new Error(msg.type === 'fatal' ? msg.error : `unexpected ${msg.type} message`))));
      worker.once('error', (err) => reject(err));
      worker.once('exit', (code) => reject(new Error(`the tokenizer thread exited during load (code ${code})`)));
    });
    worker.on('message', (msg: FromTokenizer) => {
      if (msg.type !== 'rows' && msg.type !== 'error') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === 'rows') p.resolve(msg);
      else p.reject(new Error(msg.error));
    });
    worker.on('error', (err) => (lastError = `: ${err.message}`));
    worker.on('exit', (code) => this.died(`exited (code ${code})${lastError}`));
    this.worker = worker;
    for (const [id, p] of this.pending) worker.postMessage({ id, texts: p.texts } satisfies ToTokenizer);
  }

  tokenize(id: number, texts: string[]): Promise<Rows> {
    return new Promise((resolve, reject) => {
      this.pending.set(id, { texts, resolve, reject });
      this.worker?.postMessage({ id, texts } satisfies ToTokenizer);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker?.terminate();
  }

  private died(why: string): void {
    this.worker = null;
    if (this.closing) return;
    const first = this.pending.entries().next().value;
    if (first) {
      this.pending.delete(first[0]);
      first[1].reject(new Error(`the tokenizer thread ${why} while tokenizing this call`));
    }
    this.start().catch((err: Error) => {
      // Nothing can be tokenized any more: end this worker, so the supervisor replaces it.
      setImmediate(() => {
        throw new Error(`the tokenizer thread could not start again: ${err.message}`);
      });
    });
  }
}

/**
 * Another session of the model on a thread of its own (session-thread.ts), seen from here: a share
 * of a call goes out packed over the channel and its logits come back. The main thread starts the
 * thread and hands this worker its end of the channel (supervisor.ts). A session thread that dies
 * ends this worker (the supervisor replaces it with new session threads and runs its calls again),
 * as a crash of the worker's own session would.
 */
class SessionThread {
  private readonly pending = new Map<number, { resolve: (logits: Float32Array[]) => void; reject: (e: Error) => void }>();
  private closing = false;

  private constructor(private readonly port: MessagePort) {
    port.on('message', (msg: FromSessionThread) => {
      if (msg.type !== 'logits' && msg.type !== 'error') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === 'logits') p.resolve(msg.logits);
      else p.reject(new Error(msg.error));
    });
    port.on('close', () => {
      if (this.closing) return;
      const why = 'a session thread ended';
      for (const p of this.pending.values()) p.reject(new Error(why));
      setImmediate(() => {
        throw new Error(why);
      });
    });
  }

  /** Waits for the thread's session; rejects with its own error when it cannot start. */
  static async start(port: MessagePort): Promise<SessionThread> {
    await new Promise<void>((resolve, reject) => {
      const onClose = () => reject(new Error('a session thread ended during load'));
      port.once('close', onClose);
      port.once('message', (msg: FromSessionThread) => {
        port.off('close', onClose);
        if (msg.type === 'ready') resolve();
        else reject(new Error(msg.type === 'fatal' ? `a session thread could not start: ${msg.error}` : `unexpected ${msg.type} message`));
      });
    });
    return new SessionThread(port);
  }

  run(id: number, runs: PackedRun[]): Promise<Float32Array[]> {
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.port.postMessage({ id, runs } satisfies ToSessionThread, runs.flatMap((r) => [r.inputIds.buffer, r.attentionMask.buffer] as ArrayBuffer[]));
    });
  }

  /** Closes the channel: the thread ends after the run it may be in. */
  close(): void {
    this.closing = true;
    this.port.close();
  }
}

/** A text's logits are the mean of its windows' logits (a confident window outweighs a neutral one). */
function meanByOwner(rowLogits: Float32Array, owner: Int32Array, texts: number, classes: number): Float32Array {
  const sum = new Float64Array(texts * classes);
  const count = new Float64Array(texts);
  owner.forEach((t, r) => {
    count[t]! += 1;
    for (let c = 0; c < classes; c++) sum[t * classes + c]! += rowLogits[r * classes + c]!;
  });
  const out = new Float32Array(texts * classes);
  for (let t = 0; t < texts; t++) for (let c = 0; c < classes; c++) out[t * classes + c] = sum[t * classes + c]! / count[t]!;
  return out;
}

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  let provider: ProviderName;
  let failures: { provider: ProviderName; error: string }[];
  // readModelFolder validated config.json already; the worker is handed only the folder
  let tokenizer: TokenizerStage;
  let sessionThreads: SessionThread[] = [];
  const warnings: string[] = [];
  // Below the main thread: when the cores are busy, Kafka I/O, heartbeats and publishing run first
  // and the batch waits a little, instead of every message waiting behind the batch. Set before the
  // tokenizer thread and ORT's pool exist, so they inherit it. p99 at 50 % load, 3 open-loop runs
  // each on 2 cores: 23-70 ms at nice 0, 24-38 at 10 (docs/performance.md).
  if (init.nice > 0) {
    try {
      setPriority(0, init.nice);
    } catch (err) {
      warnings.push(`could not lower the inference threads' priority to nice ${init.nice}: ${firstLine(err)}`);
    }
  }
  try {
    const windowStride = parseWindowStride(JSON.parse(readFileSync(path.join(init.dir, 'config.json'), 'utf8')) as Record<string, unknown>);
    tokenizer = new TokenizerStage({ dir: init.dir, maxLength: init.maxLength, maxTextChars: init.maxTextChars, windowStride, faultInjection: init.faultState !== undefined });
    await tokenizer.start();
    ({ session, provider, failures } = await createSession(init));
    sessionThreads = await Promise.all((init.sessionPorts ?? []).map((port) => SessionThread.start(port)));
  } catch (err) {
    post({ type: 'fatal', error: firstLine(err) });
    return;
  }

  const classes = init.labels.length;

  let shareIds = 0;
  /** One call: its rows from the tokenizer stage (already on their way) through ONNX Runtime. */
  const run = async (textCount: number, tokenized: Promise<Rows>) => {
    const { ids, offsets, owner, tokenizeMs } = await tokenized;
    const t1 = nowMs();
    const rows: Int32Array[] = [];
    for (let r = 0; r + 1 < offsets.length; r++) rows.push(ids.subarray(offsets[r]!, offsets[r + 1]!));
    // Length bucketing, within a row and a token cap per run (encode.ts SUB_BATCH), the runs shared
    // between the sessions by padded tokens.
    const lengths = rows.map((r) => r.length);
    const [own = [], ...theirs] = shareRuns(subBatches(lengths), lengths, sessionThreads.length + 1);
    const rowLogits = new Float32Array(rows.length * classes);
    let seqLen = 0;
    const place = (bucket: number[], runSeqLen: number, logits: Float32Array) => {
      seqLen = Math.max(seqLen, runSeqLen);
      bucket.forEach((row, n) => rowLogits.set(logits.subarray(n * classes, (n + 1) * classes), row * classes));
    };
    const pack = (bucket: number[]) => packBatch(bucket.map((i) => rows[i]!), tokenizer.padId);
    // The other sessions' shares go out first, so they run while this thread runs its own.
    const elsewhere = theirs.map(async (share, k) => {
      if (share.length === 0) return;
      const packed: PackedRun[] = share.map(pack);
      const logits = await sessionThreads[k]!.run(++shareIds, packed);
      share.forEach((bucket, j) => place(bucket, packed[j]!.seqLen, logits[j]!));
    });
    // Awaited below; until then a failure there is not unhandled.
    for (const e of elsewhere) e.catch(() => undefined);
    for (const bucket of own) {
      const packed = pack(bucket);
      place(bucket, packed.seqLen, await runPacked(session, packed, classes));
    }
    await Promise.all(elsewhere);
    const data = owner === null ? rowLogits : meanByOwner(rowLogits, owner, textCount, classes);
    const t2 = nowMs();
    return { logits: data, timings: { tokenizeMs, inferenceMs: t2 - t1, batchSize: textCount, seqLen }, t1 };
  };

  // Warm up (first run allocates and, on GPU providers, compiles kernels) and check the output shape.
  try {
    await run(2, tokenizer.tokenize(0, ['warm up', '']));
  } catch (err) {
    post({ type: 'fatal', error: firstLine(err) });
    return;
  }
  post({ type: 'ready', provider, failures, warnings });

  let chain: Promise<void> = Promise.resolve();
  port.on('message', (msg: ToWorker) => {
    // Tokenizing starts now, while the calls before this one are still in ONNX Runtime.
    const tokenized = msg.type === 'run' ? tokenizer.tokenize(msg.id, msg.texts) : null;
    // Awaited in the chain only; until then a failure here is not unhandled.
    tokenized?.catch(() => undefined);
    chain = chain.then(async () => {
      if (msg.type === 'close') {
        await session.release();
        for (const t of sessionThreads) t.close();
        await tokenizer.close();
        post({ type: 'closed' });
        port.close();
        return;
      }
      try {
        const { logits, timings, t1 } = await run(msg.texts.length, tokenized!);
        post({ type: 'result', id: msg.id, logits, timings: { ...timings, queueMs: Math.max(0, t1 - msg.sentAt - timings.tokenizeMs) } }, [logits.buffer as ArrayBuffer]);
      } catch (err) {
        post({ type: 'error', id: msg.id, error: firstLine(err) });
      }
    });
  });
}

await main();
