/**
 * The inference worker: owns the tokenizer and the ONNX Runtime session of one model folder.
 * onnxruntime-node's `session.run` blocks the thread it runs on for the whole inference, so it
 * runs here and the caller's event loop (Kafka heartbeats) stays free. Requests are handled one at
 * a time in arrival order; a `close` message is handled after the requests sent before it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { packBatch } from './encode.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';
import { nowMs, type FromWorker, type ProviderName, type ToWorker, type WorkerInit } from './protocol.js';

const init = workerData as WorkerInit;
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
      });
      return { session, provider, failures };
    } catch (err) {
      failures.push({ provider, error: firstLine(err) });
    }
  }
  throw new Error(`no execution provider could start: ${failures.map((f) => `${f.provider}: ${f.error}`).join('; ')}`);
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
  try {
    tok = await loadTokenizer(init.dir, init.maxLength, init.maxTextChars);
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

  const run = async (texts: string[]) => {
    const t0 = nowMs();
    const packed = packBatch(tok.encode(texts), tok.padId);
    const t1 = nowMs();
    const dims = [packed.batch, packed.seqLen];
    const out = await session.run({
      input_ids: new ort.Tensor('int64', packed.inputIds, dims),
      attention_mask: new ort.Tensor('int64', packed.attentionMask, dims),
    });
    const t2 = nowMs();
    const logits = out.logits;
    if (logits === undefined || logits.dims.length !== 2 || logits.dims[0] !== packed.batch || logits.dims[1] !== classes) {
      throw new Error(`model.onnx returned logits of shape [${logits?.dims.join(', ') ?? ''}], expected [${packed.batch}, ${classes}] (config.json lists ${classes} labels)`);
    }
    // Copy out of ORT's buffer so the copy can be transferred, not cloned.
    const data = new Float32Array(logits.data as Float32Array);
    return { logits: data, timings: { tokenizeMs: t1 - t0, inferenceMs: t2 - t1, batchSize: packed.batch, seqLen: packed.seqLen }, t0 };
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
