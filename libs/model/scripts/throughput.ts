/**
 * Model-only throughput through loadModel().predict (worker, tokenizer and ORT; no Kafka).
 *
 *   npx tsx libs/model/scripts/throughput.ts [--model sst2-bilstm] [--data FILE.tsv]
 *       [--batch 64,256] [--threads N] [--sessions N] [--providers cpu] [--rounds 3] [--in-flight 1,2]
 *
 * `--in-flight 2` keeps two calls in flight, as the scorer's pipeline does: the second is tokenized
 * by the worker's tokenizer stage while the first is in ONNX Runtime (README, "Tokenized ahead").
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
    sessions: { type: 'string', default: '1' },
    providers: { type: 'string', default: 'cpu' },
    rounds: { type: 'string', default: '3' },
    'in-flight': { type: 'string', default: '1,2' },
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
  sessions: Number(values.sessions),
  onWarning: (w) => console.error(`warning: ${w}`),
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`model ${model.info.name} ${model.info.version}, provider ${model.info.provider}, threads ${values.threads ?? 'ORT default'}, sessions ${values.sessions}, ${texts.length} texts from ${values.data}`);

for (const size of values.batch.split(',').map(Number)) for (const inFlight of values['in-flight'].split(',').map(Number)) {
  const pass = async () => {
    const tok: number[] = [];
    const inf: number[] = [];
    const seq: number[] = [];
    let next = 0;
    const lane = async () => {
      while (next < texts.length) {
        const i = next;
        next += size;
        const { timings } = await model.predict(texts.slice(i, i + size));
        tok.push(timings.tokenizeMs);
        inf.push(timings.inferenceMs);
        seq.push(timings.seqLen);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    return { tok, inf, seq };
  };
  await pass(); // warm-up
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let last = { tok: [] as number[], inf: [] as number[], seq: [] as number[] };
  for (let r = 0; r < rounds; r++) last = await pass();
  const secs = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  const tokSum = last.tok.reduce((a, b) => a + b, 0);
  const infSum = last.inf.reduce((a, b) => a + b, 0);
  console.log(
    `batch ${String(size).padStart(4)}, ${inFlight} in flight: ${Math.round((texts.length * rounds) / secs)} texts/s, ${((cpu.user + cpu.system) / 1e3 / (texts.length * rounds)).toFixed(3)} CPU s per 1,000; per batch median tokenize ${median(last.tok).toFixed(1)} ms, inference ${median(last.inf).toFixed(1)} ms, padded length ${median(last.seq)}; tokenize / (tokenize + inference) = ${((100 * tokSum) / (tokSum + infSum)).toFixed(0)}%; calling thread's event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`,
  );
}
await model.close();
