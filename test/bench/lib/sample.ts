// The benchmark's load: real tweets and review sentences from ../shared/datasets, drawn with a fixed
// seed, each source keeping its own length distribution.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from '../../support/random.js';

export interface PoolItem {
  text: string;
  /** Gold label as a name (negative / neutral / positive). */
  gold: string;
  source: 'tweet' | 'review';
  /** `dev` items were not used to train the shipped models (their test splits are held back elsewhere). */
  split: 'train' | 'dev';
}

/** A missing or incomplete datasets folder: one line, no stack (bench.ts prints it and exits 2). */
export class DatasetsError extends Error {}

const SST2_LABELS = ['negative', 'positive'];
const TWEETEVAL_LABELS = ['negative', 'neutral', 'positive'];

/** TSV with a header; split at the TAB, no CSV quoting (see the datasets' README). */
function readTsv(file: string, labels: string[], source: PoolItem['source'], split: PoolItem['split']): PoolItem[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: PoolItem[] = [];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const tab = line.lastIndexOf('\t');
    const text = line.slice(0, tab);
    const gold = labels[Number(line.slice(tab + 1))];
    if (text.trim() === '' || gold === undefined) continue;
    out.push({ text, gold, source, split });
  }
  return out;
}

/**
 * Tweets: TweetEval sentiment train + dev. Reviews: SST-2's full sentences (train-sentences + dev),
 * not the phrase-level train.tsv, whose fragments are far shorter than real review sentences.
 */
export function loadPools(datasetsDir: string): { tweets: PoolItem[]; reviews: PoolItem[] } {
  const files = ['tweeteval-sentiment/train.tsv', 'tweeteval-sentiment/dev.tsv', 'sst2/train-sentences.tsv', 'sst2/dev.tsv'];
  const missing = files.filter((f) => !existsSync(join(datasetsDir, f)));
  if (missing.length > 0) {
    throw new DatasetsError(
      existsSync(datasetsDir)
        ? `${datasetsDir} lacks ${missing.join(', ')} (the shared datasets' README lists them)`
        : `datasets folder ${datasetsDir} not found: put the shared datasets beside the checkout (../shared/datasets) or set DATA_DIR`,
    );
  }
  const tweets = [
    ...readTsv(join(datasetsDir, 'tweeteval-sentiment/train.tsv'), TWEETEVAL_LABELS, 'tweet', 'train'),
    ...readTsv(join(datasetsDir, 'tweeteval-sentiment/dev.tsv'), TWEETEVAL_LABELS, 'tweet', 'dev'),
  ];
  const reviews = [
    ...readTsv(join(datasetsDir, 'sst2/train-sentences.tsv'), SST2_LABELS, 'review', 'train'),
    ...readTsv(join(datasetsDir, 'sst2/dev.tsv'), SST2_LABELS, 'review', 'dev'),
  ];
  return { tweets, reviews };
}


/** n items drawn with replacement: each is a tweet with probability `tweetShare`, else a review sentence. */
export function sample(pools: { tweets: PoolItem[]; reviews: PoolItem[] }, n: number, seed: number, tweetShare: number): PoolItem[] {
  const rand = prng(seed);
  const out: PoolItem[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const pool = rand() < tweetShare ? pools.tweets : pools.reviews;
    out[i] = pool[Math.floor(rand() * pool.length)]!;
  }
  return out;
}

/** Length mix of a sample, for the report: characters and whitespace-separated words. */
export function describe(items: PoolItem[]): Record<string, number> {
  const chars = items.map((i) => i.text.length).sort((a, b) => a - b);
  const words = items.map((i) => i.text.split(/\s+/).length).sort((a, b) => a - b);
  const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const bytes = items.reduce((s, i) => s + Buffer.byteLength(i.text), 0);
  return {
    tweets: items.filter((i) => i.source === 'tweet').length,
    reviews: items.filter((i) => i.source === 'review').length,
    chars_p50: q(chars, 0.5),
    chars_p90: q(chars, 0.9),
    chars_max: chars[chars.length - 1] ?? 0,
    words_mean: Math.round((10 * words.reduce((a, b) => a + b, 0)) / Math.max(1, words.length)) / 10,
    words_p50: q(words, 0.5),
    words_p90: q(words, 0.9),
    mean_text_bytes: Math.round(bytes / Math.max(1, items.length)),
  };
}
