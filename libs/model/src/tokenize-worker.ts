/**
 * The tokenizer stage: a thread of its own, started by the inference worker, that turns texts into
 * the rows the model reads (token ids, cut at max_length or split into windows). It works on the
 * call after the one ONNX Runtime is running, so the model never waits for ids: onnxruntime-node's
 * `session.run` holds its thread for the whole call, and tokenizing on that thread left the second
 * core idle for 15-20 % of every call (docs/performance.md, "Tokenize ahead").
 *
 * Rows travel back as one flat Int32Array with offsets (transferred, not cloned): cloning number[][]
 * cost more CPU than the overlap saved in the prototype.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { windowRows, type WindowSpec } from './encode.js';
import { loadTokenizer } from './tokenizer.js';
import { faultText, nowMs, type FromTokenizer, type TokenizerInit, type ToTokenizer } from './protocol.js';

const init = workerData as TokenizerInit;
const port = parentPort!;
const post = (msg: FromTokenizer, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

/** number[][] -> one Int32Array and the offsets of its rows (rows + 1 entries). */
function flatten(rows: readonly (readonly number[])[]): { ids: Int32Array; offsets: Int32Array } {
  let total = 0;
  for (const r of rows) total += r.length;
  const ids = new Int32Array(total);
  const offsets = new Int32Array(rows.length + 1);
  let at = 0;
  rows.forEach((r, i) => {
    offsets[i] = at;
    ids.set(r, at);
    at += r.length;
  });
  offsets[rows.length] = at;
  return { ids, offsets };
}

async function main(): Promise<void> {
  let tok;
  try {
    tok = await loadTokenizer(init.dir, init.maxLength, init.maxTextChars);
  } catch (err) {
    post({ type: 'fatal', error: (err as Error).message });
    return;
  }
  const windows: WindowSpec | null = init.windowStride === null ? null : { maxLength: init.maxLength, stride: init.windowStride, prefix: tok.prefix, suffix: tok.suffix };

  /** Texts -> rows: one per text, or, for a model read in windows, one per window with the text it belongs to. */
  const encode = (texts: string[]): { rows: number[][]; owner: Int32Array | null } => {
    if (windows === null) return { rows: tok.encode(texts), owner: null };
    const rows: number[][] = [];
    const owner: number[] = [];
    tok.encodeFull(texts).forEach((full, i) => {
      for (const w of windowRows(full, windows)) {
        rows.push(w);
        owner.push(i);
      }
    });
    return { rows, owner: Int32Array.from(owner) };
  };

  const exitFault = init.faultInjection ? faultText('tokenizer-exit') : null;
  port.on('message', (msg: ToTokenizer) => {
    if (exitFault !== null && msg.texts.includes(exitFault)) process.exit(87);
    const t0 = nowMs();
    try {
      const { rows, owner } = encode(msg.texts);
      const { ids, offsets } = flatten(rows);
      const transfer = [ids.buffer, offsets.buffer, ...(owner ? [owner.buffer] : [])] as ArrayBuffer[];
      post({ type: 'rows', id: msg.id, ids, offsets, owner, tokenizeMs: nowMs() - t0 }, transfer);
    } catch (err) {
      post({ type: 'error', id: msg.id, error: (err as Error).message });
    }
  });
  post({ type: 'ready', padId: tok.padId });
}

await main();
