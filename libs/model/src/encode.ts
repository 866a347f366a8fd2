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
export function packBatch(rows: readonly (readonly number[])[], padId: number): PackedBatch {
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
