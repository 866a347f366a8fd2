// One system under test, as its own process, so peak RSS and CPU time are its own.
// Plain JavaScript over the built packages (no tsx loader in this process: it would add about
// 37 MB of RSS that production does not have). test/bench/bench.ts starts it:
//
//   node test/bench/system.mjs scorer|passthrough|afinn|vader      (config from the environment,
//        exactly as `sentiment-stream scorer` reads it; runs until SIGTERM)
//   node test/bench/system.mjs model-only                          (BENCH_TEXTS_FILE, BATCH_MAX_SIZE,
//        MODEL, INTRA_OP_THREADS; prints JSON progress lines on stdout, then exits)
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadModel, readModelFolder } from '@sentiment-stream/model';
import { loadScorerConfig, startScorer } from '@sentiment-stream/scorer';
import { baselineClassifier } from '../../services/cli/dist/baselines.js';
import { createLogger } from '@sentiment-stream/runtime';

const kind = process.argv[2];
const KINDS = ['scorer', 'passthrough', 'afinn', 'vader', 'model-only'];
if (!KINDS.includes(kind)) {
  process.stderr.write(`usage: node test/bench/system.mjs ${KINDS.join('|')}\n`);
  process.exit(2);
}

if (kind === 'model-only') await modelOnly();
else await service();

/** The real scorer (startScorer), with the predictor this system stands for. */
async function service() {
  const config = loadScorerConfig(process.env);
  const logger = createLogger(config.LOG_LEVEL, `bench-${kind}`);
  const loadPredictor = kind === 'scorer' ? undefined : async () => lexiconOrConstant(kind, (await readModelFolder(config.MODEL)).config.labels);
  const scorer = await startScorer(config, logger, loadPredictor);
  // Lets the harness cut a CPU profile (V8 timestamps are CLOCK_MONOTONIC microseconds) to the drain window.
  process.stdout.write(`${JSON.stringify({ clock: { hr_us: Number(process.hrtime.bigint() / 1000n), wall_ms: Date.now() } })}\n`);
  const signal = await new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'bench system stopping');
  const deadline = setTimeout(() => process.exit(1), 10_000);
  await scorer.stop();
  clearTimeout(deadline);
  process.exit(0);
}

/**
 * A ManagedPredictor that is not the model: `passthrough` copies one constant result (the bound
 * of the Kafka layer), `afinn` / `vader` are the CLI's lexicon baselines with its label mapping.
 */
function lexiconOrConstant(name, labels) {
  const info = { name, version: '0', provider: 'cpu', labels };
  const oneHot = (index) => {
    const probabilities = {};
    labels.forEach((l, i) => (probabilities[l] = i === index ? 1 : 0));
    return { label: labels[index], score: 1, probabilities };
  };
  if (name === 'passthrough') {
    const constant = oneHot(labels.length - 1);
    return {
      info,
      predict: async (texts) => ({ predictions: texts.map(() => constant), timings: { tokenizeMs: 0, inferenceMs: 0 } }),
      close: async () => undefined,
    };
  }
  const classify = baselineClassifier(name, labels);
  const results = labels.map((_, i) => oneHot(i));
  return {
    info,
    predict: async (texts) => {
      const start = performance.now();
      const predictions = texts.map((t) => results[classify(t)]);
      return { predictions, timings: { tokenizeMs: 0, inferenceMs: performance.now() - start } };
    },
    close: async () => undefined,
  };
}

/** Tokenizer + ONNX Runtime through loadModel().predict, batch after batch, no Kafka. */
async function modelOnly() {
  const all = JSON.parse(readFileSync(process.env.BENCH_TEXTS_FILE, 'utf8'));
  const texts = process.env.BENCH_TEXTS_LIMIT ? all.slice(0, Number(process.env.BENCH_TEXTS_LIMIT)) : all;
  const batch = Number(process.env.BATCH_MAX_SIZE ?? 256);
  const threads = Number(process.env.INTRA_OP_THREADS ?? 0);
  const model = await loadModel(process.env.MODEL ?? 'sst2-bilstm', threads > 0 ? { intraOpThreads: threads } : {});
  // The same warm-up as the scorer's loadOnnxPredictor.
  await model.warmup(Math.min(batch, 64));
  const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  out({ ready: true });
  let done = 0;
  let firstAt = 0;
  let firstBatch = 0;
  let lastProgress = 0;
  let tokenizeMs = 0;
  let inferenceMs = 0;
  for (let i = 0; i < texts.length; i += batch) {
    const chunk = texts.slice(i, i + batch);
    const { timings } = await model.predict(chunk);
    tokenizeMs += timings.tokenizeMs;
    inferenceMs += timings.inferenceMs;
    done += chunk.length;
    const now = Date.now();
    if (firstAt === 0) {
      firstAt = now;
      firstBatch = chunk.length;
    }
    if (now - lastProgress >= 250) {
      lastProgress = now;
      out({ done, t: now });
    }
  }
  const lastAt = Date.now();
  out({ done, t: lastAt, result: { firstAt, lastAt, firstBatch, outputs: done, tokenizeMs, inferenceMs, batches: Math.ceil(texts.length / batch) } });
  // Stay up until the parent has read /proc (peak RSS, CPU time), then go.
  const keepAlive = setInterval(() => undefined, 1_000);
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  clearInterval(keepAlive);
  await model.close();
  process.exit(0);
}
