/**
 * One ONNX Runtime session of a model, as the inference worker (inference-worker.ts) and its other
 * session threads (session-thread.ts) open and run it: the same options everywhere, so every
 * session of a model computes the same logits.
 */
import * as ort from 'onnxruntime-node';
import type { PackedBatch } from './encode.js';
import type { OrtLogLevel, ProviderName } from './protocol.js';

export interface SessionOptions {
  modelPath: string;
  providers: ProviderName[];
  intraOpThreads: number | undefined;
  ortLogLevel: OrtLogLevel;
}

/** Tries the providers in order; the first session that starts wins. Rejects when none starts, or the model lacks the inputs and output the worker feeds and reads. */
export async function createSession(o: SessionOptions): Promise<{ session: ort.InferenceSession; provider: ProviderName; failures: { provider: ProviderName; error: string }[] }> {
  // ORT's own logger would print a provider's failure to stderr as well as throwing it; the caller
  // gets it once, through onWarning.
  ort.env.logLevel = o.ortLogLevel;
  const failures: { provider: ProviderName; error: string }[] = [];
  for (const provider of o.providers) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(o.modelPath, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        interOpNumThreads: 1,
        ...(o.intraOpThreads !== undefined ? { intraOpNumThreads: o.intraOpThreads } : {}),
        // Every run has its own shape (rows x longest row), so a memory pattern planned for one shape
        // is rarely reused; without them two sessions held 2.5 MB less after 400 runs of <= 512
        // tokens, at the same speed (88-93 against 91-97 us per row).
        enableMemPattern: false,
        // Idle pool threads sleep instead of spinning: on 2 cores, spinning took CPU from the Kafka
        // thread and the other pool thread (2 threads: 4,807 -> 5,088 msg/s and 0.37 -> 0.30 CPU s
        // per 1,000 messages without it; docs/performance.md).
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
    } catch (err) {
      failures.push({ provider, error: firstLine(err) });
      continue;
    }
    for (const name of ['input_ids', 'attention_mask']) {
      if (!session.inputNames.includes(name)) throw new Error(`model.onnx has no input "${name}" (inputs: ${session.inputNames.join(', ')})`);
    }
    if (!session.outputNames.includes('logits')) throw new Error(`model.onnx has no output "logits" (outputs: ${session.outputNames.join(', ')})`);
    return { session, provider, failures };
  }
  throw new Error(`no execution provider could start: ${failures.map((f) => `${f.provider}: ${f.error}`).join('; ')}`);
}

/** Runs one packed batch; its logits, row-major [batch, classes], checked for shape. */
export async function runPacked(session: ort.InferenceSession, packed: Pick<PackedBatch, 'inputIds' | 'attentionMask' | 'batch' | 'seqLen'>, classes: number): Promise<Float32Array> {
  const dims = [packed.batch, packed.seqLen];
  const out = await session.run({
    input_ids: new ort.Tensor('int64', packed.inputIds, dims),
    attention_mask: new ort.Tensor('int64', packed.attentionMask, dims),
  });
  const logits = out.logits;
  if (logits === undefined || logits.dims.length !== 2 || logits.dims[0] !== packed.batch || logits.dims[1] !== classes) {
    throw new Error(`model.onnx returned logits of shape [${logits?.dims.join(', ') ?? ''}], expected [${packed.batch}, ${classes}] (config.json lists ${classes} labels)`);
  }
  return logits.data as Float32Array;
}

export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}
