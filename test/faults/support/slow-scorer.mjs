// The real scorer (startScorer, the shipped ONNX model, config from the environment) with an
// inference stage that stalls on chosen batches, as a stuck or overloaded worker would. Plain
// JavaScript over the built packages, started with plain `node` like the CLI (no loader in the way).
//
//   FAULT_STUCK_BATCH=N FAULT_STUCK_MS=ms   the Nth batch (1-based) waits ms before it is scored
//   FAULT_SLOW_EVERY=K  FAULT_SLOW_MS=ms    every Kth batch waits ms before it is scored
//   FAULT_INJECTION=1                       the model worker obeys libs/model's fault texts
//                                           (faultText('exit'), 'hang-once', ...): it dies or hangs
//                                           on them, under the scorer's own supervision
//                                           (INFERENCE_TIMEOUT_MS, worker replacement)
//
// The wait is an await on the main thread's event loop, which is exactly what a stuck inference
// worker thread looks like to the rest of the scorer: the predict() promise does not settle. Each
// stall is logged at warn level (`fault: batch stalled`) so the scenario can see when it happened.
import { loadModel } from '@sentiment-stream/model';
import { loadScorerConfig, startScorer } from '@sentiment-stream/scorer';
import { createLogger, runService } from '@sentiment-stream/runtime';

const num = (name) => Number(process.env[name] ?? 0);
const stuckBatch = num('FAULT_STUCK_BATCH');
const stuckMs = num('FAULT_STUCK_MS');
const slowEvery = num('FAULT_SLOW_EVERY');
const slowMs = num('FAULT_SLOW_MS');

const config = loadScorerConfig(process.env);
const logger = createLogger(config.LOG_LEVEL, 'slow-scorer');

/** The scorer's own loader (loadModel + warm-up at the batch size it will see), then the stalls. */
async function loadStallingPredictor(cfg, log, metrics) {
  const model = await loadModel(cfg.MODEL, {
    executionProviders: cfg.EXECUTION_PROVIDERS,
    ...(cfg.INTRA_OP_THREADS > 0 ? { intraOpThreads: cfg.INTRA_OP_THREADS } : {}),
    inferenceTimeoutMs: cfg.INFERENCE_TIMEOUT_MS,
    faultInjection: process.env.FAULT_INJECTION === '1',
    onRestart: (e) => {
      metrics.workerRestarts.inc();
      log.warn({ restarts: e.restarts, reason: e.reason }, 'model worker replaced');
    },
    onFailed: (err) => log.error({ err: err.message }, 'the model worker keeps failing; giving up'),
  });
  await model.warmup(Math.min(cfg.BATCH_MAX_SIZE, 64));
  let batches = 0;
  return {
    info: model.info,
    close: () => model.close(),
    health: () => model.health(),
    async predict(texts) {
      batches += 1;
      const n = batches;
      const wait = n === stuckBatch ? stuckMs : slowEvery > 0 && n % slowEvery === 0 ? slowMs : 0;
      if (wait > 0) {
        logger.warn({ batch: n, texts: texts.length, waitMs: wait, at: Date.now() }, 'fault: batch stalled');
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      return model.predict(texts);
    },
  };
}

// The scorer's own lifecycle (libs/runtime): signals, the stop deadline, and an exit code for a
// scorer that fails on its own (a model that gave up), as the CLI has it.
process.exitCode = await runService(
  {
    name: 'slow-scorer',
    loadConfig: () => config,
    logLevel: (c) => c.LOG_LEVEL,
    start: (c, log) => startScorer(c, log, loadStallingPredictor),
    describe: (c) => ({ inputTopics: c.INPUT_TOPICS, kafkaClient: c.KAFKA_CLIENT }),
    stopTimeoutMs: (c) => c.SHUTDOWN_TIMEOUT_MS,
  },
  process.env,
);
