import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DatasetsError, loadPools, sample } from './sample.js';

it('a missing datasets folder is one line that names it and DATA_DIR', () => {
  const dir = join(tmpdir(), 'no-such-datasets-dir');
  expect(() => loadPools(dir)).toThrow(DatasetsError);
  expect(() => loadPools(dir)).toThrow(`datasets folder ${dir} not found: put the shared datasets beside the checkout (../shared/datasets) or set DATA_DIR`);
});

it('an incomplete one names the files it lacks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-data-'));
  mkdirSync(join(dir, 'sst2'));
  writeFileSync(join(dir, 'sst2/dev.tsv'), 'sentence\tlabel\nfine\t1\n');
  expect(() => loadPools(dir)).toThrow(/lacks tweeteval-sentiment\/train\.tsv, tweeteval-sentiment\/dev\.tsv, sst2\/train-sentences\.tsv \(the shared datasets' README lists them\)$/);
});

it('draws the same sample for the same seed, tweets at the asked share', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-data-'));
  mkdirSync(join(dir, 'sst2'));
  mkdirSync(join(dir, 'tweeteval-sentiment'));
  const rows = (n: number, label: number) => `text\tlabel\n${Array.from({ length: n }, (_, i) => `t${i}\t${label}`).join('\n')}\n`;
  writeFileSync(join(dir, 'sst2/train-sentences.tsv'), rows(50, 1));
  writeFileSync(join(dir, 'sst2/dev.tsv'), rows(10, 0));
  writeFileSync(join(dir, 'tweeteval-sentiment/train.tsv'), rows(50, 2));
  writeFileSync(join(dir, 'tweeteval-sentiment/dev.tsv'), rows(10, 1));
  const pools = loadPools(dir);
  const a = sample(pools, 2_000, 7, 0.25);
  expect(sample(pools, 2_000, 7, 0.25)).toEqual(a);
  expect(a.filter((i) => i.source === 'tweet').length / a.length).toBeGreaterThan(0.2);
  expect(a.filter((i) => i.source === 'tweet').length / a.length).toBeLessThan(0.3);
});
