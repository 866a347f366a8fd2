/**
 * What `compileReplaceNormalizers` saves: the library's tokenizer and one with its Replace
 * normalizers built once, alternating in one process, on the same texts.
 *
 *   npx tsx libs/model/scripts/tokenizer-cost.ts [--model sst2-bilstm] [--data DIR] [--rounds 5] [--passes 10]
 *
 * Reads the text column of both dev sets (DATA_DIR, or ../shared/datasets), checks that both
 * tokenizers give the same ids, then prints per round the normalizer's time and the whole
 * tokenizer's CPU time (calls of 256, truncated to 128 tokens), per 1,000 texts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AutoTokenizer, env } from '@xenova/transformers';
import { compileReplaceNormalizers } from '../src/tokenizer.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'sst2-bilstm' },
    data: { type: 'string', default: process.env.DATA_DIR ?? '../shared/datasets' },
    rounds: { type: 'string', default: '5' },
    passes: { type: 'string', default: '10' },
  },
});

const texts = ['sst2/dev.tsv', 'tweeteval-sentiment/dev.tsv'].flatMap((f) =>
  readFileSync(path.join(values.data, f), 'utf8').split('\n').slice(1).map((l) => l.split('\t')[0]!).filter((t) => t !== ''),
);
const folder = path.resolve(values.model.includes('/') ? values.model : path.join('models', values.model));
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(folder) + path.sep;
type Tok = { normalizer: { normalize(t: string): string }; (t: string[], o: object): { input_ids: number[][] } };
const library = (await AutoTokenizer.from_pretrained(path.basename(folder))) as unknown as Tok;
const compiled = (await AutoTokenizer.from_pretrained(path.basename(folder))) as unknown as Tok;
compileReplaceNormalizers(compiled.normalizer);

const opts = { truncation: true, max_length: 128, padding: false, return_tensor: false };
const same = JSON.stringify(library(texts, opts).input_ids) === JSON.stringify(compiled(texts, opts).input_ids);
const passes = Number(values.passes);
const perThousand = (ms: number) => ((ms / (texts.length * passes)) * 1000).toFixed(1);
const normalizeMs = (t: Tok) => {
  const start = performance.now();
  for (let p = 0; p < passes; p++) for (const x of texts) t.normalizer.normalize(x);
  return performance.now() - start;
};
const tokenizeCpuMs = (t: Tok) => {
  const start = process.cpuUsage();
  for (let p = 0; p < passes; p++) for (let i = 0; i < texts.length; i += 256) t(texts.slice(i, i + 256), opts);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};
console.log(`${values.model}: ${texts.length} texts from ${values.data}, ${passes} passes per round; same ids: ${same}`);
for (let r = 0; r < Number(values.rounds); r++) {
  const [nl, nc, tl, tc] = [normalizeMs(library), normalizeMs(compiled), tokenizeCpuMs(library), tokenizeCpuMs(compiled)];
  console.log(`round ${r}: normalizer ${perThousand(nl)} -> ${perThousand(nc)} ms per 1,000 texts; tokenizer ${perThousand(tl)} -> ${perThousand(tc)} CPU ms per 1,000 texts (library -> built once)`);
}
if (!same) process.exitCode = 1;
