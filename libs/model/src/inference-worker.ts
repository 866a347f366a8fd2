/**
 * The inference worker: owns the tokenizer and the ONNX Runtime session of one model folder.
 * onnxruntime-node's `session.run` blocks the thread it runs on for the whole inference, so it
 * runs here and the caller's event loop (Kafka heartbeats) stays free. Requests are handled one at
 * a time in arrival order; a `close` message is handled after the requests sent before it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { packBatch, windowRows, type WindowSpec } from './encode.js';
import { parseWindowStride } from './model-folder.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';
import { nowMs, type FromWorker, type ProviderName, type ToWorker, type WorkerInit } from './protocol.js';

const init = workerData as WorkerInit;
/** Rows per ONNX Runtime call after sorting by length (measured best on 2 CPU cores: 32-64). */
const BUCKET_ROWS = 64;
const port = parentPort!;
const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

/** Tries the providers in order; the first session that starts wins. */
async function createSession(): Promise<{ session: ort.InferenceSession; provider: ProviderName; failures: { provider: ProviderName; error: string }[] }> {
  // ORT's own logger would print a provider's failure to stderr as well as throwing it; the caller
  // gets it once, through onWarning.
  ort.env.logLevel = init.ortLogLevel;
  const failures: { provider: ProviderName; error: string }[] = [];
  for (const provider of init.providers) {
    try {
      const session = await ort.InferenceSession.create(init.modelPath, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        interOpNumThreads: 1,
        ...(init.intraOpThreads !== undefined ? { intraOpNumThreads: init.intraOpThreads } : {}),
        // Idle pool threads sleep instead of spinning: on 2 cores, spinning took CPU from the Kafka
        // thread and the other pool thread (2 threads: 4,807 -> 5,088 msg/s and 0.37 -> 0.30 CPU s
        // per 1,000 messages without it; docs/performance.md).
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      return { session, provider, failures };
    } catch (err) {
      failures.push({ provider, error: firstLine(err) });
    }
  }
  throw new Error(`no execution provider could start: ${failures.map((f) => `${f.provider}: ${f.error}`).join('; ')}`);
}

/** A text's logits are the mean of its windows' logits (a confident window outweighs a neutral one). */
function meanByOwner(rowLogits: Float32Array, owner: number[], texts: number, classes: number): Float32Array {
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

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}

async function main(): Promise<void> {
  let tok: Tokenizer;
  let session: ort.InferenceSession;
  let provider: ProviderName;
  let failures: { provider: ProviderName; error: string }[];
  let windows: WindowSpec | null = null;
  try {
    tok = await loadTokenizer(init.dir, init.maxLength, init.maxTextChars);
    // readModelFolder validated config.json already; the worker is handed only the folder
    const stride = parseWindowStride(JSON.parse(readFileSync(path.join(init.dir, 'config.json'), 'utf8')) as Record<string, unknown>);
    if (stride !== null) windows = { maxLength: init.maxLength, stride, prefix: tok.prefix, suffix: tok.suffix };
    ({ session, provider, failures } = await createSession());
    for (const name of ['input_ids', 'attention_mask']) {
      if (!session.inputNames.includes(name)) throw new Error(`model.onnx has no input "${name}" (inputs: ${session.inputNames.join(', ')})`);
    }
    if (!session.outputNames.includes('logits')) throw new Error(`model.onnx has no output "logits" (outputs: ${session.outputNames.join(', ')})`);
  } catch (err) {
    post({ type: 'fatal', error: firstLine(err) });
    return;
  }

  const classes = init.labels.length;

  /** Runs one padded sub-batch; rows are token ids, already truncated. */
  const infer = async (rows: number[][]) => {
    const packed = packBatch(rows, tok.padId);
    const dims = [packed.batch, packed.seqLen];
    const out = await session.run({
      input_ids: new ort.Tensor('int64', packed.inputIds, dims),
      attention_mask: new ort.Tensor('int64', packed.attentionMask, dims),
    });
    const logits = out.logits;
    if (logits === undefined || logits.dims.length !== 2 || logits.dims[0] !== packed.batch || logits.dims[1] !== classes) {
      throw new Error(`model.onnx returned logits of shape [${logits?.dims.join(', ') ?? ''}], expected [${packed.batch}, ${classes}] (config.json lists ${classes} labels)`);
    }
    return { data: logits.data as Float32Array, seqLen: packed.seqLen };
  };

  /**
   * Texts -> model rows: one per text (cut at max_length), or, for a model read in windows, one
   * per window, with `owner[r]` the text that row r belongs to.
   */
  const encode = (texts: string[]): { rows: number[][]; owner: number[] | null } => {
    if (windows === null) return { rows: tok.encode(texts), owner: null };
    const rows: number[][] = [];
    const owner: number[] = [];
    tok.encodeFull(texts).forEach((full, i) => {
      for (const w of windowRows(full, windows!)) {
        rows.push(w);
        owner.push(i);
      }
    });
    return { rows, owner };
  };

  const run = async (texts: string[]) => {
    const t0 = nowMs();
    const { rows, owner } = encode(texts);
    const t1 = nowMs();
    // Length bucketing: a batch pads to its longest text, so sorting by length and running
    // sub-batches of similar length spends the LSTM's steps on tokens, not on padding.
    const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.length - rows[b]!.length);
    const rowLogits = new Float32Array(rows.length * classes);
    let seqLen = 0;
    for (let start = 0; start < order.length; start += BUCKET_ROWS) {
      const bucket = order.slice(start, start + BUCKET_ROWS);
      const result = await infer(bucket.map((i) => rows[i]!));
      seqLen = Math.max(seqLen, result.seqLen);
      bucket.forEach((row, n) => rowLogits.set(result.data.subarray(n * classes, (n + 1) * classes), row * classes));
    }
    const data = owner === null ? rowLogits : meanByOwner(rowLogits, owner, texts.length, classes);
    const t2 = nowMs();
    return { logits: data, timings: { tokenizeMs: t1 - t0, inferenceMs: t2 - t1, batchSize: texts.length, seqLen }, t0 };
  };

  // Warm up (first run allocates and, on GPU providers, compiles kernels) and check the output shape.
  try {
    await run(['warm up', '']);
  } catch (err) {
    post({ type: 'fatal', error: firstLine(err) });
    return;
  }
  post({ type: 'ready', provider, failures });

  let chain: Promise<void> = Promise.resolve();
  port.on('message', (msg: ToWorker) => {
    chain = chain.then(async () => {
      if (msg.type === 'close') {
        await session.release();
        post({ type: 'closed' });
        port.close();
        return;
      }
      try {
        const { logits, timings, t0 } = await run(msg.texts);
        post({ type: 'result', id: msg.id, logits, timings: { ...timings, queueMs: Math.max(0, t0 - msg.sentAt) } }, [logits.buffer as ArrayBuffer]);
      } catch (err) {
        post({ type: 'error', id: msg.id, error: firstLine(err) });
      }
    });
  });
}

await main();
