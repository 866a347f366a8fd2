import { describe, expect, it } from 'vitest';
import { packBatch, shareRuns, softmaxRows, subBatches, windowRows } from './encode.js';

describe('packBatch', () => {
  it('pads on the right to the longest row of the batch, not to max_length', () => {
    const p = packBatch([[5, 6, 7], [8], [9, 10]], 0);
    expect(p.seqLen).toBe(3);
    expect([...p.inputIds]).toEqual([5n, 6n, 7n, 8n, 0n, 0n, 9n, 10n, 0n]);
    expect([...p.attentionMask]).toEqual([1n, 1n, 1n, 1n, 0n, 0n, 1n, 1n, 0n]);
    expect(p.filled).toBe(0);
  });

  it('gives a row with no token one [PAD] step with mask 1', () => {
    const p = packBatch([[], [4, 4]], 0);
    expect([...p.inputIds]).toEqual([0n, 0n, 4n, 4n]);
    expect([...p.attentionMask]).toEqual([1n, 0n, 1n, 1n]);
    expect(p.filled).toBe(1);
  });

  it('never produces a zero-length sequence, even when every row is empty', () => {
    const p = packBatch([[], []], 0);
    expect(p.seqLen).toBe(1);
    expect([...p.inputIds]).toEqual([0n, 0n]);
    expect([...p.attentionMask]).toEqual([1n, 1n]);
  });

  it('uses a non-zero pad id', () => {
    const p = packBatch([[1, 2], [], [3]], 9);
    expect([...p.inputIds]).toEqual([1n, 2n, 9n, 9n, 3n, 9n]);
    expect([...p.attentionMask]).toEqual([1n, 1n, 1n, 0n, 1n, 0n]);
  });
});

describe('subBatches', () => {
  it('sorts rows by length and cuts a run at the row cap', () => {
    expect(subBatches([3, 1, 2, 1, 5], { rows: 2, tokens: 100 })).toEqual([[1, 3], [2, 0], [4]]);
  });

  it('cuts a run before the row that would take it past the token cap', () => {
    // sorted lengths 2, 2, 3, 4, 10: (2 rows x 2) = 4 fits, 3 x 3 = 9 > 8 cuts; 2 x 4 = 8 fits; 2 x 10 cuts
    expect(subBatches([10, 2, 3, 2, 4], { rows: 64, tokens: 8 })).toEqual([[1, 3], [2, 4], [0]]);
  });

  it('runs a row longer than the token cap alone, and counts an empty row as one step', () => {
    expect(subBatches([0, 0, 20, 0], { rows: 64, tokens: 2 })).toEqual([[0, 1], [3], [2]]);
  });

  it('keeps every row exactly once, each run within both caps', () => {
    const lengths = Array.from({ length: 500 }, (_, i) => ((i * 7919) % 128) + 1);
    const runs = subBatches(lengths);
    expect(runs.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    for (const run of runs) {
      expect(run.length).toBeLessThanOrEqual(64);
      expect(run.length * Math.max(...run.map((i) => lengths[i]!))).toBeLessThanOrEqual(1024);
    }
  });

  it('returns no run for no rows', () => {
    expect(subBatches([])).toEqual([]);
  });
});

describe('shareRuns', () => {
  const padded = (runs: number[][], lengths: number[]) => runs.reduce((n, run) => n + run.length * Math.max(1, ...run.map((i) => lengths[i]!)), 0);

  it('deals runs to the least-loaded session, largest first, and keeps every row once', () => {
    const lengths = Array.from({ length: 256 }, (_, i) => ((i * 7919) % 60) + 1);
    const shares = shareRuns(subBatches(lengths), lengths, 2);
    expect(shares).toHaveLength(2);
    expect(shares.flat(2).sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    const [a, b] = shares.map((share) => padded(share, lengths));
    // largest first to the least loaded: the loads differ by at most one run (at most 1,024 padded tokens)
    expect(Math.abs(a! - b!)).toBeLessThanOrEqual(1024);
    expect(a! + b!).toBe(padded(subBatches(lengths), lengths));
  });

  it('cuts a lone run in two, alternate rows, so both sessions work on a small call', () => {
    // one run of rows sorted by length: 2, 3, 5, 8 (indices 3, 0, 2, 1)
    expect(shareRuns([[3, 0, 2, 1]], [3, 8, 5, 2], 2)).toEqual([[[0, 1]], [[3, 2]]]);
  });

  it('gives session 0 the work when there is one row, and nothing to anyone for no rows', () => {
    expect(shareRuns([[0]], [7], 2)).toEqual([[[0]], []]);
    expect(shareRuns([], [], 2)).toEqual([[], []]);
  });

  it('with one session, gives it every run, largest first', () => {
    // padded tokens: [1, 3] 2 x 1 = 2, [2, 0] 2 x 3 = 6, [4] 1 x 5 = 5
    expect(shareRuns([[1, 3], [2, 0], [4]], [3, 1, 2, 1, 5], 1)).toEqual([[[2, 0], [4], [1, 3]]]);
  });
});

describe('softmaxRows', () => {
  it('normalises each row and is stable for large logits', () => {
    const p = softmaxRows(new Float32Array([0, 0, 1000, 1000, 0, Math.log(3)]), 2);
    expect(p[0]).toBeCloseTo(0.5, 12);
    expect(p[2]).toBeCloseTo(0.5, 12);
    expect(p[4]).toBeCloseTo(0.25, 6);
    expect(p[5]).toBeCloseTo(0.75, 6);
  });
});

describe('windowRows', () => {
  const bert = { maxLength: 6, stride: 2, prefix: [101], suffix: [102] };

  it('keeps a text that fits as one row', () => {
    expect(windowRows([101, 1, 2, 3, 4, 102], bert)).toEqual([[101, 1, 2, 3, 4, 102]]);
  });

  it('reads a long text in windows that cover all of it, each with the specials', () => {
    const row = [101, 1, 2, 3, 4, 5, 6, 7, 102];
    const w = windowRows(row, bert);
    expect(w).toEqual([
      [101, 1, 2, 3, 4, 102],
      [101, 3, 4, 5, 6, 102],
      [101, 4, 5, 6, 7, 102],
    ]);
    for (const x of w) expect(x.length).toBeLessThanOrEqual(bert.maxLength);
    expect(new Set(w.flatMap((x) => x.slice(1, -1)))).toEqual(new Set([1, 2, 3, 4, 5, 6, 7]));
  });

  it('works without specials (the BiLSTM tokenizers)', () => {
    expect(windowRows([1, 2, 3, 4, 5], { maxLength: 3, stride: 3, prefix: [], suffix: [] })).toEqual([
      [1, 2, 3],
      [3, 4, 5],
    ]);
  });

  it('rejects a stride that would skip tokens or a max_length with no room', () => {
    expect(() => windowRows([101, 1, 2, 3, 4, 5, 102], { ...bert, stride: 5 })).toThrow(/window_stride must be an integer from 1 to 4/);
    expect(() => windowRows([101, 1, 102], { ...bert, maxLength: 2 })).toThrow(/leaves no room/);
  });
});
