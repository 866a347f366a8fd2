/**
 * Model-only throughput through loadModel().predict (worker, tokenizer and ORT; no Kafka).
 *
 *   npx tsx libs/model/scripts/throughput.ts [--model sst2-bilstm] [--data FILE.tsv]
 *       [--batch 64,256] [--threads N] [--providers cpu] [--rounds 3]
 *
 * Reads the text column of a TSV (header with text/sentence), scores every text in batches of each
 * size `rounds` times after one warm-up pass, and prints texts/s plus the median per-batch
 * tokenize/inference times and the calling thread's event-loop delay while it ran (compare with
 * an idle process on the same machine: inference itself does not block this thread).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'sst2-bilstm' },
    data: { type: 'string', default: '../shared/datasets/tweeteval-sentiment/dev.tsv' },
    batch: { type: 'string', default: '64,256' },
    threads: { type: 'string' },
    providers: { type: 'string', default: 'cpu' },
    rounds: { type: 'string', default: '3' },
  },
});

const lines = readFileSync(values.data, 'utf8').split('\n').filter((l) => l !== '');
const header = lines[0]!.split('\t').map((h) => h.toLowerCase());
const col = header.includes('text') ? header.indexOf('text') : header.indexOf('sentence');
if (col < 0) throw new Error(`${values.data}: no text/sentence column`);
const texts = lines.slice(1).map((l) => l.split('\t')[col]!);
const rounds = Number(values.rounds);

const model = await loadModel(values.model, {
  executionProviders: values.providers,
  ...(values.threads !== undefined ? { intraOpThreads: Number(values.threads) } : {}),
  onWarning: (w) => console.error(`warning: ${w}`),
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`model ${model.info.name} ${model.info.version}, provider ${model.info.provider}, threads ${values.threads ?? 'ORT default'}, ${texts.length} texts from ${values.data}`);

for (const size of values.batch.split(',').map(Number)) {
  const pass = async () => {
    const tok: number[] = [];
    const inf: number[] = [];
    const seq: number[] = [];
    for (let i = 0; i < texts.length; i += size) {
      const { timings } = await model.predict(texts.slice(i, i + size));
      tok.push(timings.tokenizeMs);
      inf.push(timings.inferenceMs);
      seq.push(timings.seqLen);
    }
    return { tok, inf, seq };
  };
  await pass(); // warm-up
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const start = performance.now();
  let last = { tok: [] as number[], inf: [] as number[], seq: [] as number[] };
  for (let r = 0; r < rounds; r++) last = await pass();
  const secs = (performance.now() - start) / 1000;
  loop.disable();
  const tokSum = last.tok.reduce((a, b) => a + b, 0);
  const infSum = last.inf.reduce((a, b) => a + b, 0);
  console.log(
    `batch ${String(size).padStart(4)}: ${Math.round((texts.length * rounds) / secs)} texts/s; per batch median tokenize ${median(last.tok).toFixed(1)} ms, inference ${median(last.inf).toFixed(1)} ms, padded length ${median(last.seq)}; tokenize = ${((100 * tokSum) / (tokSum + infSum)).toFixed(0)}% of worker time; calling thread's event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`,
  );
}
await model.close();
