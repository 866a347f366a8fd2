import { hostname } from 'node:os';
import { OffsetTracker, Source, createKafka, createSink, type Assignment, type Logger } from '@sentiment-stream/kafka';
import { Registry, createScorerMetrics } from '@sentiment-stream/metrics';
import { loadModel } from '@sentiment-stream/model';
import type { FastifyInstance } from 'fastify';
import type { ScorerConfig } from './config.js';
import { Pipeline } from './pipeline.js';
import type { ManagedPredictor } from './predictor.js';
import { startStatusServer, type ScorerStatus } from './status-server.js';

export interface RunningScorer {
  status(): ScorerStatus;
  /** Stops fetching, finishes and commits in-flight batches, leaves the group, frees the model. */
  stop(): Promise<void>;
}

/**
 * Wires the libraries into the running service. The status endpoint comes up first (not ready),
 * then the model (fail fast on a bad folder), then Kafka (retried with backoff until it answers).
 */
export async function startScorer(
  config: ScorerConfig,
  logger: Logger,
  /** Loads what scores the texts; the benchmarks pass lexicon scorers and a copy through the same pipeline. */
  loadPredictor: (config: ScorerConfig, logger: Logger) => Promise<ManagedPredictor> = loadOnnxPredictor,
): Promise<RunningScorer> {
  const registry = new Registry();
  const metrics = createScorerMetrics(registry);
  let model: ManagedPredictor | undefined;
  let joined = false;
  let stopping = false;
  let assignment: Assignment[] = [];
  const status = (): ScorerStatus => ({
    ready: model !== undefined && joined && !stopping,
    live: true,
    model: model ? { name: model.info.name, version: model.info.version, provider: model.info.provider } : null,
    delivery: config.DELIVERY,
    groupId: config.GROUP_ID,
    assignment,
  });
  const server = await startStatusServer(config.STATUS_HOST, config.STATUS_PORT, registry, status);

  try {
    model = await loadPredictor(config, logger);
  } catch (err) {
    await server.close();
    throw err;
  }
  const { name, version, provider } = model.info;
  metrics.modelInfo.set({ model: name, version, provider }, 1);
  logger.info({ model: name, version, provider }, 'model loaded');

  const kafka = createKafka(config, logger);
  const sink = createSink(kafka, config.DELIVERY, config.GROUP_ID, config.TRANSACTIONAL_ID ?? `${config.GROUP_ID}-${hostname()}`);
  const exactlyOnce = config.DELIVERY === 'exactly-once';
  const pipeline = new Pipeline(
    model,
    sink,
    new OffsetTracker(),
    metrics,
    {
      outputTopic: config.OUTPUT_TOPIC,
      dlqTopic: config.DLQ_TOPIC,
      decode: { format: config.INPUT_FORMAT, textField: config.TEXT_FIELD, idField: config.ID_FIELD, maxTextBytes: config.MAX_TEXT_BYTES },
      batch: { maxSize: config.BATCH_MAX_SIZE, maxWaitMs: config.BATCH_MAX_WAIT_MS },
    },
    logger,
    {
      onJoin: (a) => {
        assignment = a;
        joined = true;
        metrics.ready.set(1);
        logger.info({ assignment: a }, 'joined the consumer group');
      },
    },
  );
  const source = new Source(
    kafka,
    {
      groupId: config.GROUP_ID,
      topics: config.INPUT_TOPICS,
      fetchMaxBytes: config.FETCH_MAX_BYTES,
      partitionsConcurrently: 64,
      heartbeatEveryMs: 1_000,
      commitAfterHandler: !exactlyOnce,
      resumeFromCommitted: exactlyOnce,
    },
    logger,
  );
  source.consumer.on(source.consumer.events.CRASH, ({ payload }) => {
    joined = false;
    metrics.ready.set(0);
    if (!payload.restart) {
      // Uncommitted work is consumed again by whoever takes the partitions: nothing is lost.
      logger.error({ err: payload.error.message }, 'consumer crashed and cannot restart; exiting so the orchestrator restarts the scorer');
      process.exit(1);
    }
  });

  await retryUntilConnected(() => sink.connect(), 'producer', logger, () => stopping);
  await retryUntilConnected(() => source.start(pipeline), 'consumer', logger, () => stopping);

  return {
    status,
    async stop() {
      stopping = true;
      metrics.ready.set(0);
      await source.stop();
      await sink.disconnect();
      await model?.close();
      await closeQuietly(server);
    },
  };
}

/** The shipped ONNX model, warmed up at the batch size it will mostly see. */
async function loadOnnxPredictor(config: ScorerConfig, logger: Logger): Promise<ManagedPredictor> {
  const model = await loadModel(config.MODEL, {
    executionProviders: config.EXECUTION_PROVIDERS,
    ...(config.INTRA_OP_THREADS > 0 ? { intraOpThreads: config.INTRA_OP_THREADS } : {}),
    onWarning: (message) => logger.warn({}, message),
  });
  await model.warmup(Math.min(config.BATCH_MAX_SIZE, 64));
  return model;
}

async function retryUntilConnected(connect: () => Promise<void>, what: string, logger: Logger, stopping: () => boolean) {
  for (let delay = 1_000; ; delay = Math.min(delay * 2, 30_000)) {
    try {
      return await connect();
    } catch (err) {
      if (stopping()) throw err;
      logger.warn({ err: (err as Error).message, retryInMs: delay }, `Kafka ${what} cannot connect yet; not ready`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function closeQuietly(server: FastifyInstance) {
  await server.close().catch(() => undefined);
}
