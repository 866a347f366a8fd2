/**
 * The figures behind the supervision defaults (README "Supervision"):
 *
 *   npx tsx libs/model/scripts/supervision.ts [--model sst2-bilstm] [--threads 1] [--restarts 5] [--batch 256,4096]
 *
 * Prints the time to load the model (a worker's start: tokenizer, session, warm-up), the time from a
 * worker's death to the replacement answering (median and max of `restarts`, through the
 * fault-injection worker), and the time of one call of `batch` texts that each fill max_length
 * tokens (the slowest call a batch of that size can be), worst of 3.
 */
import { parseArgs } from 'node:util';
import { faultText, loadModel } from '../src/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'sst2-bilstm' },
    threads: { type: 'string', default: '1' },
    restarts: { type: 'string', default: '5' },
    batch: { type: 'string', default: '256,4096' },
  },
});
const threads = Number(values.threads);
const ms = (t: number) => `${Math.round(t)} ms`;

let t = performance.now();
const model = await loadModel(values.model, { intraOpThreads: threads, faultInjection: true, inferenceTimeoutMs: 0 });
console.log(`model ${model.info.name} ${model.info.version}, provider ${model.info.provider}, ${threads} intra-op thread(s)`);
console.log(`load (first worker start): ${ms(performance.now() - t)}`);

const restarts: number[] = [];
for (let i = 0; i < Number(values.restarts); i++) {
  t = performance.now();
  await model.predict([faultText('exit')]).catch(() => undefined);
  await model.predict(['fine']);
  restarts.push(performance.now() - t);
}
restarts.sort((a, b) => a - b);
console.log(`worker death -> replacement answers: median ${ms(restarts[Math.floor(restarts.length / 2)]!)}, max ${ms(restarts.at(-1)!)} over ${restarts.length}`);

// Every text long enough to be truncated to max_length: the most LSTM steps a call can take.
const long = 'the plot is thin , the acting is worse and the ending makes no sense at all . '.repeat(40);
for (const size of values.batch.split(',').map(Number)) {
  const texts = Array.from({ length: size }, (_, i) => `${i} ${long}`);
  await model.predict(texts.slice(0, 64));
  let worst = 0;
  for (let round = 0; round < 3; round++) {
    const { timings } = await model.predict(texts);
    worst = Math.max(worst, timings.totalMs);
  }
  console.log(`one call of ${size} texts of ${model.info.maxLength} tokens: ${ms(worst)} (worst of 3)`);
}
await model.close();
