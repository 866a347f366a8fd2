/** A batch packed for the model: row-major [batch, seqLen] int64 tensors' data. */
export interface PackedBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  batch: number;
  seqLen: number;
  /** How many rows had no token at all and were given one [PAD] step instead. */
  filled: number;
}

/**
 * Packs already-truncated token id rows, padding on the right with `padId` to the longest row of
 * this batch (not to max_length). A row with no token (empty or whitespace-only text, or text the
 * tokenizer drops entirely) becomes one [PAD] step with mask 1, and the sequence length is at least
 * 1: ORT gets no zero-length tensor, a masked pooling never divides by zero, and the result is what
 * the training code defines for an empty text ("read as a single [PAD] step", models/README).
 */
export function packBatch(rows: readonly ArrayLike<number>[], padId: number): PackedBatch {
  const batch = rows.length;
  let seqLen = 1;
  for (const row of rows) if (row.length > seqLen) seqLen = row.length;
  const inputIds = new BigInt64Array(batch * seqLen);
  const attentionMask = new BigInt64Array(batch * seqLen);
  const pad = BigInt(padId);
  if (pad !== 0n) inputIds.fill(pad);
  let filled = 0;
  for (let r = 0; r < batch; r++) {
    const row = rows[r]!;
    const base = r * seqLen;
    if (row.length === 0) {
      inputIds[base] = pad;
      attentionMask[base] = 1n;
      filled++;
      continue;
    }
    for (let i = 0; i < row.length; i++) {
      inputIds[base + i] = BigInt(row[i]!);
      attentionMask[base + i] = 1n;
    }
  }
  return { inputIds, attentionMask, batch, seqLen, filled };
}

/**
 * How a call's rows are split into ONNX Runtime runs: sorted by length (a run pads to its longest
 * row, so similar lengths spend the steps on tokens, not padding), at most `rows` rows and at most
 * `tokens` padded tokens (rows x the longest length) per run. The token cap bounds what one run
 * allocates: ORT's LSTM projects every step's input at once (rows x steps x 4H floats per
 * direction), and its arena keeps the largest run's memory for the life of the session. On 2 CPU
 * cores, 10,000 tweets and SST-2 sentences in calls of 250 (4 interleaved rounds): 64 rows
 * uncapped raised peak RSS by 55-60 MB over the calls, 1,024 tokens by 18-26 MB, at 17,700-20,300
 * against 15,200-18,000 texts/s (a smaller run's projections stay in cache). With two sessions
 * (shareRuns), 512 tokens: the scorer's drain peak 299-302 against 306-310 MB, at 6,597-6,996
 * against 6,322-6,707 msgs/s (2 alternating drains of 30,000 each), and finer pieces share better.
 */
export const SUB_BATCH = { rows: 64, tokens: 512 } as const;

/**
 * Splits row indices into runs as SUB_BATCH describes: each run lists the indices of its rows,
 * shortest first. A row longer than `tokens` runs alone.
 */
export function subBatches(lengths: readonly number[], limits: { rows: number; tokens: number } = SUB_BATCH): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]!);
  const runs: number[][] = [];
  let run: number[] = [];
  for (const i of order) {
    // Sorted ascending, so row i is the longest of the run it joins: the run's padded size is then
    // (its rows + 1) x this row's length. An empty row still runs as one [PAD] step (packBatch).
    const padded = (run.length + 1) * Math.max(1, lengths[i]!);
    if (run.length > 0 && (run.length === limits.rows || padded > limits.tokens)) {
      runs.push(run);
      run = [];
    }
    run.push(i);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Deals a call's runs (subBatches) out to `sessions` ONNX Runtime sessions that run at the same
 * time, each getting about the same padded tokens (rows x longest row: an LSTM's steps cost that):
 * largest run first, each to the least-loaded session. With fewer runs than sessions, the largest run
 * of 2 rows or more is first cut in two (alternate rows of its sorted order, so both halves pad to
 * about the same length): a small call is shared too, and its latency halves. Session 0 (the
 * worker's own) gets a run whenever there is one. Returns one list of runs per session.
 */
export function shareRuns(runs: readonly number[][], lengths: readonly number[], sessions: number): number[][][] {
  const cost = (run: readonly number[]) => run.length * Math.max(1, ...run.map((i) => lengths[i]!));
  const pieces = runs.map((r) => [...r]);
  while (pieces.length < sessions) {
    let at = -1;
    for (let i = 0; i < pieces.length; i++) if (pieces[i]!.length > 1 && (at < 0 || cost(pieces[i]!) > cost(pieces[at]!))) at = i;
    if (at < 0) break;
    const run = pieces[at]!;
    pieces.splice(at, 1, run.filter((_, k) => k % 2 === 0), run.filter((_, k) => k % 2 === 1));
  }
  const shares: number[][][] = Array.from({ length: sessions }, () => []);
  const load = new Array<number>(sessions).fill(0);
  for (const piece of [...pieces].sort((a, b) => cost(b) - cost(a))) {
    let s = 0;
    for (let k = 1; k < sessions; k++) if (load[k]! < load[s]!) s = k;
    shares[s]!.push(piece);
    load[s]! += cost(piece);
  }
  return shares;
}

/** Softmax of each row of a row-major [rows, classes] logits array (max-subtracted). */
export function softmaxRows(logits: Float32Array | readonly number[], classes: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let base = 0; base < logits.length; base += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[base + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(logits[base + c]! - max);
      out[base + c] = e;
      sum += e;
    }
    for (let c = 0; c < classes; c++) out[base + c] = out[base + c]! / sum;
  }
  return out;
}

/** How a text longer than a model's max_length is read: in overlapping windows (config.json `window_stride`). */
export interface WindowSpec {
  /** Ids per window at most, specials included (config.json max_length). */
  maxLength: number;
  /** Body tokens between the starts of two windows (config.json window_stride). */
  stride: number;
  /** Special ids every window starts / ends with ([CLS] / [SEP] for a BERT tokenizer). */
  prefix: readonly number[];
  suffix: readonly number[];
}

/**
 * One text's full ids -> the rows the model reads: the text itself when it fits in maxLength, else
 * windows of the text's body (its ids without the specials) of maxLength minus the specials, one
 * starting every `stride` body tokens, the last one ending at the text's end, each wrapped in the
 * specials. Nothing of the text is left unread; the caller averages the windows' logits.
 * training/windows.py is the same function for the parity logits.
 */
export function windowRows(row: readonly number[], spec: WindowSpec): number[][] {
  if (row.length <= spec.maxLength) return [[...row]];
  const width = spec.maxLength - spec.prefix.length - spec.suffix.length;
  if (width < 1) throw new Error(`max_length ${spec.maxLength} leaves no room for text between the special tokens`);
  if (!Number.isInteger(spec.stride) || spec.stride < 1 || spec.stride > width) {
    throw new Error(`window_stride must be an integer from 1 to ${width} (max_length minus the special tokens), got ${spec.stride}`);
  }
  const body = row.slice(spec.prefix.length, row.length - spec.suffix.length);
  const starts: number[] = [];
  for (let s = 0; s + width < body.length; s += spec.stride) starts.push(s);
  starts.push(body.length - width);
  return starts.map((s) => [...spec.prefix, ...body.slice(s, s + width), ...spec.suffix]);
}
