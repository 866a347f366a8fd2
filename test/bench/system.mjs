// One system under test, as its own process, so peak RSS and CPU time are its own.
// Plain JavaScript over the built packages (no tsx loader in this process: it would add about
// 37 MB of RSS that production does not have). test/bench/bench.ts starts it:
//
//   node test/bench/system.mjs scorer|passthrough|afinn|vader      (config from the environment,
//        exactly as `sentiment-stream scorer` reads it; runs until SIGTERM)
//   node test/bench/system.mjs per-message                         (a consumer that scores one
//        message at a time on its own thread, the way a per-message transformers.js pipeline does;
//        KAFKA_BROKERS, INPUT_TOPICS, OUTPUT_TOPIC, GROUP_ID, MODEL, STATUS_PORT)
//   node test/bench/system.mjs model-only                          (BENCH_TEXTS_FILE, BATCH_MAX_SIZE,
//        MODEL, INTRA_OP_THREADS; prints JSON progress lines on stdout, then exits)
//   node test/bench/system.mjs peak                                (BENCH_PEAK_SPEC: MatMul models
//        to time with the inference worker's session options; prints one JSON result line)
//
// The service kinds also print, every second and on SIGUSR2, a `{"stats": ...}` line: where the
// process's memory is at its highest RSS so far (V8 heaps of the main thread and of the inference
// worker, buffers, file-backed pages), garbage-collection pauses of the main thread and its
// event-loop delay, and a per-second timeline of both (for the tail-latency analysis).
import { readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createServer } from 'node:http';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

// Track the inference worker (libs/model starts it with `new Worker`) so its V8 heap can be read
// from here, without touching libs/model. The ESM binding other modules imported follows this.
const workerThreads = createRequire(import.meta.url)('node:worker_threads');
const workers = new Set();
class TrackedWorker extends workerThreads.Worker {
  constructor(...args) {
    super(...args);
    workers.add(this);
    this.once('exit', () => workers.delete(this));
  }
}
workerThreads.Worker = TrackedWorker;
syncBuiltinESMExports();

const { loadModel, readModelFolder } = await import('@sentiment-stream/model');
const { scorerSettings } = await import('@sentiment-stream/scorer');

const kind = process.argv[2];
const KINDS = ['scorer', 'passthrough', 'afinn', 'vader', 'per-message', 'model-only', 'peak'];
if (!KINDS.includes(kind)) {
  process.stderr.write(`usage: node test/bench/system.mjs ${KINDS.join('|')}\n`);
  process.exit(2);
}

if (kind === 'model-only') await modelOnly();
else if (kind === 'peak') await peak();
else {
  // BENCH_NO_STATS=1: without the statistics sampler (to measure what it costs).
  if (process.env.BENCH_NO_STATS !== '1') startStats();
  if (kind === 'per-message') await perMessage();
  else await service();
}

// ---- memory, GC and event-loop statistics ----------------------------------------------------

function startStats() {
  const kb = (status, name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  let peakSample = null;
  const gc = { count: 0, total_ms: 0, max_ms: 0, over_10ms: 0, by_kind: {} };
  const GC_KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb', 16: 'minor' };
  // Per wall-clock second: GC time and longest pause on the main thread, longest event-loop delay, CPU.
  let second = { t: Math.floor(Date.now() / 1000), gc_ms: 0, gc_max_ms: 0 };
  let timeline = [];
  // Main-thread pauses of 5 ms or more, with their start time (ms since the epoch).
  let pauses = [];
  // One histogram, reset every second, at 10 ms resolution: an idle scorer used 0.24 s of CPU per
  // 10 s with the sampler and without it (BENCH_NO_STATS=1); two 5 ms histograms had cost 0.07 s more.
  const loopSecond = monitorEventLoopDelay({ resolution: 10 });
  loopSecond.enable();
  let loopMax = 0;
  let cpu = process.cpuUsage();
  const roll = () => {
    const t = Math.floor(Date.now() / 1000);
    if (t === second.t) return;
    const c = process.cpuUsage();
    const max = loopSecond.max / 1e6;
    loopMax = Math.max(loopMax, max);
    timeline.push({ ...second, loop_max_ms: +max.toFixed(1), cpu_ms: Math.round((c.user - cpu.user + c.system - cpu.system) / 1000) });
    cpu = c;
    loopSecond.reset();
    second = { t, gc_ms: 0, gc_max_ms: 0 };
  };
  new PerformanceObserver((list) => {
    roll();
    for (const e of list.getEntries()) {
      gc.count++;
      gc.total_ms += e.duration;
      gc.max_ms = Math.max(gc.max_ms, e.duration);
      if (e.duration >= 10) gc.over_10ms++;
      const k = GC_KINDS[e.detail?.kind] ?? 'other';
      gc.by_kind[k] = (gc.by_kind[k] ?? 0) + e.duration;
      if (e.duration >= 5) pauses.push({ at: Math.round(performance.timeOrigin + e.startTime), ms: +e.duration.toFixed(1) });
      second.gc_ms += e.duration;
      second.gc_max_ms = Math.max(second.gc_max_ms, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });

  const sample = async () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const mu = process.memoryUsage();
    const rss = kb(status, 'VmRSS');
    if (peakSample && rss <= peakSample.rss_mb) return;
    const heaps = [];
    for (const w of workers) heaps.push(await w.getHeapStatistics().catch(() => null));
    const h = heaps.find((x) => x);
    peakSample = {
      rss_mb: rss,
      rss_anon_mb: kb(status, 'RssAnon'),
      rss_file_mb: kb(status, 'RssFile'),
      main_heap_total_mb: mu.heapTotal / 2 ** 20,
      main_heap_used_mb: mu.heapUsed / 2 ** 20,
      main_external_mb: mu.external / 2 ** 20,
      main_array_buffers_mb: mu.arrayBuffers / 2 ** 20,
      ...(h
        ? {
            worker_heap_total_mb: h.total_heap_size / 2 ** 20,
            worker_heap_used_mb: h.used_heap_size / 2 ** 20,
            worker_external_mb: h.external_memory / 2 ** 20,
            worker_malloced_mb: h.malloced_memory / 2 ** 20,
          }
        : {}),
      threads: Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? 0),
    };
  };
  const print = () => {
    roll();
    const out = {
      stats: {
        peak: peakSample,
        hwm_mb: kb(readFileSync('/proc/self/status', 'utf8'), 'VmHWM'),
        gc: { ...gc, total_ms: +gc.total_ms.toFixed(1), max_ms: +gc.max_ms.toFixed(1) },
        loop: { max_ms: loopMax },
        timeline,
        pauses,
      },
    };
    timeline = [];
    pauses = [];
    process.stdout.write(`${JSON.stringify(out)}\n`);
  };
  setInterval(() => void sample().catch(() => undefined), 250).unref();
  setInterval(print, 1_000).unref();
  process.on('SIGUSR2', () => void sample().finally(print));
}

/**
 * The main thread's allocations from now until stop(), written to `file` as a sampling heap profile
 * (test/bench/profile.ts summarizeAllocations). Objects the GC has collected are kept in it: what a
 * message costs the scavenger is what it allocates, not what survives (`node --heap-prof` keeps only
 * the survivors). Started once the scorer is up, so startup's allocations are left out.
 */
async function sampleAllocations(file) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return {
    async stop() {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

// ---- the real scorer ---------------------------------------------------------------------------

/** The real scorer (startScorer), with the predictor this system stands for. */
async function service() {
  const { loadScorerConfig, startScorer } = await import('@sentiment-stream/scorer');
  const { createLogger } = await import('@sentiment-stream/runtime');
  const config = loadScorerConfig(process.env);
  const logger = createLogger(config.LOG_LEVEL, `bench-${kind}`);
  const loadPredictor = kind === 'scorer' ? undefined : async () => lexiconOrConstant(kind, (await readModelFolder(config.MODEL)).config.labels);
  const scorer = await startScorer(config, logger, loadPredictor);
  // Lets the harness cut a CPU profile (V8 timestamps are CLOCK_MONOTONIC microseconds) to the drain window.
  process.stdout.write(`${JSON.stringify({ clock: { hr_us: Number(process.hrtime.bigint() / 1000n), wall_ms: Date.now() } })}\n`);
  const allocations = process.env.BENCH_ALLOC_PROFILE ? await sampleAllocations(process.env.BENCH_ALLOC_PROFILE) : null;
  const signal = await new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  await allocations?.stop();
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
async function lexiconOrConstant(name, labels) {
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
  const { baselineClassifier } = await import('../../services/cli/dist/baselines.js');
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

// ---- what a user would build instead --------------------------------------------------------------

/**
 * One message at a time, the way a per-message transformers.js pipeline is used: a kafkajs consumer
 * (eachMessage), the tokenizer and one ONNX Runtime call per text on this thread, one produce per
 * event (acks=all), offsets auto-committed. Same model folder, tokenizer and event format as the
 * scorer, so only the way of working differs. /status and /metrics answer the harness.
 */
async function perMessage() {
  const ort = await import('onnxruntime-node');
  const { Kafka, logLevel } = await import('kafkajs');
  const { registerKafkajsCodecs } = await import('@sentiment-stream/kafka');
  const { sentimentEvent } = await import('@sentiment-stream/events');
  const { loadTokenizer } = await import('../../libs/model/dist/tokenizer.js');
  const { packBatch, softmaxRows } = await import('../../libs/model/dist/encode.js');
  registerKafkajsCodecs();
  const env = process.env;
  const folder = await readModelFolder(env.MODEL ?? 'sst2-minilm');
  const { labels, maxLength, name, version } = folder.config;
  const tok = await loadTokenizer(folder.dir, maxLength, 20_000);
  const threads = Number(env.INTRA_OP_THREADS ?? 0);
  const session = await ort.InferenceSession.create(folder.modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
  });
  let scored = 0;
  let tokenizeS = 0;
  let inferenceS = 0;
  const classify = async (text) => {
    const t0 = performance.now();
    const [ids] = tok.encode([text]);
    const p = packBatch([ids], tok.padId);
    const t1 = performance.now();
    const out = await session.run({
      input_ids: new ort.Tensor('int64', p.inputIds, [1, p.seqLen]),
      attention_mask: new ort.Tensor('int64', p.attentionMask, [1, p.seqLen]),
    });
    const probs = softmaxRows(out.logits.data, labels.length);
    const t2 = performance.now();
    tokenizeS += (t1 - t0) / 1000;
    inferenceS += (t2 - t1) / 1000;
    let best = 0;
    for (let c = 1; c < labels.length; c++) if (probs[c] > probs[best]) best = c;
    const probabilities = {};
    labels.forEach((l, c) => (probabilities[l] = probs[c]));
    return { label: labels[best], score: probs[best], probabilities };
  };
  await classify('warm up');

  const kafka = new Kafka({ clientId: 'bench-per-message', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: env.GROUP_ID });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: env.INPUT_TOPICS.split(','), fromBeginning: true });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  const model = { name, version };
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const record = { topic, partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.value, headers: {} };
      const input = JSON.parse(message.value.toString());
      const result = await classify(String(input.text ?? ''));
      const event = sentimentEvent(record, String(input.id ?? message.offset), result, model, Date.now());
      await producer.send({ topic: env.OUTPUT_TOPIC, acks: -1, messages: [{ key: message.key, value: JSON.stringify(event) }] });
      scored++;
    },
  });
  // The harness's /status and /metrics (the scorer's metric names, so it reads both alike).
  const server = createServer((req, res) => {
    if (req.url === '/status') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ready: joined }));
    } else if (req.url === '/metrics') {
      res.end(
        `sentiment_batch_size_count ${scored}\nsentiment_batch_size_sum ${scored}\n` +
          `sentiment_tokenize_duration_seconds_sum ${tokenizeS}\nsentiment_inference_duration_seconds_sum ${inferenceS}\n`,
      );
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  server.listen(Number(env.STATUS_PORT), '127.0.0.1');
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  await consumer.disconnect().catch(() => undefined);
  await producer.disconnect().catch(() => undefined);
  process.exit(0);
}

// ---- model-only ----------------------------------------------------------------------------------

/**
 * Tokenizer + ONNX Runtime through loadModel().predict, batch after batch, no Kafka; two calls in
 * flight, as the scorer's pipeline keeps them (one in ONNX Runtime, the next being tokenized).
 */
async function modelOnly() {
  const all = JSON.parse(readFileSync(process.env.BENCH_TEXTS_FILE, 'utf8'));
  const texts = process.env.BENCH_TEXTS_LIMIT ? all.slice(0, Number(process.env.BENCH_TEXTS_LIMIT)) : all;
  const batch = Number(process.env.BATCH_MAX_SIZE ?? 256);
  // The scorer's sessions and threads (its settings' defaults unless set), so model-only bounds the scorer as it runs.
  const threads = scorerSettings.INTRA_OP_THREADS.parse('INTRA_OP_THREADS', process.env.INTRA_OP_THREADS);
  const sessions = scorerSettings.INFERENCE_SESSIONS.parse('INFERENCE_SESSIONS', process.env.INFERENCE_SESSIONS);
  const maxS = Number(process.env.BENCH_MAX_S ?? 0);
  const model = await loadModel(process.env.MODEL ?? 'sst2-bilstm', { sessions, ...(threads > 0 ? { intraOpThreads: threads } : {}) });
  // The same warm-up as the scorer's loadOnnxPredictor.
  await model.warmup(Math.min(batch, 64));
  const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  out({ ready: true });
  let done = 0;
  let batches = 0;
  let firstAt = 0;
  let firstBatch = 0;
  let lastProgress = 0;
  let tokenizeMs = 0;
  let inferenceMs = 0;
  let next = 0;
  let stop = false;
  const lane = async () => {
    while (!stop && next < texts.length) {
      const chunk = texts.slice(next, next + batch);
      next += batch;
      const { timings } = await model.predict(chunk);
      tokenizeMs += timings.tokenizeMs;
      inferenceMs += timings.inferenceMs;
      done += chunk.length;
      batches++;
      const now = Date.now();
      if (firstAt === 0) {
        firstAt = now;
        firstBatch = chunk.length;
      }
      if (now - lastProgress >= 250) {
        lastProgress = now;
        out({ done, t: now });
      }
      // A slow model (the transformer) is timed over a capped window, like a capped drain.
      if (maxS > 0 && now - firstAt > maxS * 1000 && batches >= 3) stop = true;
    }
  };
  await Promise.all([lane(), lane()]);
  const lastAt = Date.now();
  // Tokenization and inference are timed apart (the worker's timings); the rest is the protocol.
  out({ done, t: lastAt, result: { firstAt, lastAt, firstBatch, outputs: done, tokenizeMs, inferenceMs, batches } });
  // Stay up until the parent has read /proc (peak RSS, CPU time), then go.
  const keepAlive = setInterval(() => undefined, 1_000);
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  clearInterval(keepAlive);
  await model.close();
  process.exit(0);
}

// ---- the machine's own peak, in ONNX Runtime ---------------------------------------------------------

/**
 * Times MatMul models (test/bench/lib/onnx.ts writes them) with the inference worker's session
 * options (no spinning, sequential, all graph optimizations) on INTRA_OP_THREADS threads (bench.ts
 * gives one per core): the GEMM rate this machine reaches through ONNX Runtime. Each case runs for about
 * `seconds` in 5 rounds; the best round is the peak (the machine is shared), the median is shown too.
 */
async function peak() {
  const ort = await import('onnxruntime-node');
  const spec = JSON.parse(readFileSync(process.env.BENCH_PEAK_SPEC, 'utf8'));
  const threads = Number(process.env.INTRA_OP_THREADS ?? 0);
  const results = [];
  for (const c of spec.cases) {
    const session = await ort.InferenceSession.create(c.file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      interOpNumThreads: 1,
      ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    const feeds = {};
    for (const [name, f] of Object.entries(c.feeds)) {
      const size = f.dims.reduce((a, b) => a * b, 1);
      const data = f.type === 'float32' ? new Float32Array(size).fill(f.fill) : f.type === 'uint8' ? new Uint8Array(size).fill(f.fill) : new Int8Array(size).fill(f.fill);
      feeds[name] = new ort.Tensor(f.type, data, f.dims);
    }
    await session.run(feeds);
    const rounds = [];
    for (let r = 0; r < 5; r++) {
      let runs = 0;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      while (performance.now() - t0 < (c.seconds * 1000) / 5 || runs < 2) {
        await session.run(feeds);
        runs++;
      }
      const s = (performance.now() - t0) / 1000;
      const cu = process.cpuUsage(c0);
      rounds.push({ gops: (runs * c.ops) / s / 1e9, us_per_run: (s * 1e6) / runs, cpu_cores: (cu.user + cu.system) / 1e6 / s });
    }
    await session.release();
    rounds.sort((a, b) => b.gops - a.gops);
    results.push({ name: c.name, ops: c.ops, best_gops: rounds[0].gops, median_gops: rounds[2].gops, us_per_run: rounds[0].us_per_run, cpu_cores: rounds[0].cpu_cores });
    process.stderr.write(`${c.name}: best ${rounds[0].gops.toFixed(1)} G/s, median ${rounds[2].gops.toFixed(1)}\n`);
  }
  process.stdout.write(`${JSON.stringify({ result: results, threads: threads || null })}\n`);
  process.exit(0);
}
