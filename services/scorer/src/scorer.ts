import { timestampMs } from '@sentiment-stream/events';
import { createKafkaTransport, type Assignment, type InputBatch, type Logger, type TransportEvent } from '@sentiment-stream/kafka';
import { Registry, createScorerMetrics, type ScorerMetrics } from '@sentiment-stream/metrics';
import { loadModel } from '@sentiment-stream/model';
import { startTracing, tracingSettings } from '@sentiment-stream/tracing';
import type { FastifyInstance } from 'fastify';
import type { ScorerConfig } from './config.js';
import { Pipeline, PipelineFailedError } from './pipeline.js';
import type { ManagedPredictor } from './predictor.js';
import { startStatusServer, type ScorerStatus } from './status-server.js';

export interface RunningScorer {
  status(): ScorerStatus;
  /** Rejects when the scorer cannot go on (the transport's fatal event, a model that gave up): the runtime stops it and exits non-zero. */
  readonly done: Promise<void>;
  /** Stops fetching, publishes and commits what is in flight, leaves the group, frees the model. */
  stop(): Promise<void>;
}

/** Room left under SHUTDOWN_TIMEOUT_MS for leaving the group and closing clients after the drain. */
const CLOSE_MARGIN_MS = 5_000;
/** Of that margin, the most the last spans may take to export (a reachable collector takes milliseconds). */
const TRACE_FLUSH_MS = 2_000;

/**
 * Wires the libraries into the running service: transport (Kafka) -> pipeline (decode, batch,
 * infer, encode) -> back to the transport through each batch's ack. The status endpoint comes up
 * first (not ready), then the model (fail fast on a bad folder), then Kafka (retried with backoff
 * until it answers; a missing topic fails start-up with one line).
 */
export async function startScorer(
  config: ScorerConfig,
  logger: Logger,
  /** Loads what scores the texts; the benchmarks pass lexicon scorers and a copy through the same pipeline. */
  loadPredictor: (config: ScorerConfig, logger: Logger, metrics: ScorerMetrics) => Promise<ManagedPredictor> = loadOnnxPredictor,
): Promise<RunningScorer> {
  // The standard OTEL_* variables (docs/tracing.md); a bad one stops start-up with one line.
  const tracingConfig = tracingSettings(process.env);
  const registry = new Registry();
  const metrics = createScorerMetrics(registry);
  let model: ManagedPredictor | undefined;
  let joined = false;
  let stopping = false;
  let assignment: Assignment[] = [];
  let fail: (err: Error) => void = () => undefined;
  const done = new Promise<void>((_, reject) => (fail = reject));
  // Rejections are handed to the runtime through `done`; until it listens, keep them from counting as unhandled.
  done.catch(() => undefined);

  const transport = createKafkaTransport(config, {
    inputTopics: config.INPUT_TOPICS,
    outputTopic: config.OUTPUT_TOPIC,
    dlqTopic: config.DLQ_TOPIC,
    dlqValuePrefixBytes: config.DLQ_VALUE_PREFIX_BYTES,
    logger,
    observer: {
      received: (topic, n) => metrics.consumed.inc({ topic }, n),
      published(outputs, records) {
        const now = Date.now();
        outputs.forEach((m, i) => {
          if (m.kind === 'dead-letter') {
            metrics.deadLetters.inc({ code: String(m.headers['x-error-code'] ?? 'UNKNOWN') });
            return;
          }
          metrics.produced.inc({ label: m.label ?? 'unknown' });
          const produced = timestampMs(records[i]!.timestamp);
          if (produced !== null) metrics.endToEndSeconds.observe(Math.max(0, now - produced) / 1000);
        });
      },
      committed: (result) => metrics.commits.inc({ result }),
      inFlight: (n) => metrics.inFlight.set(n),
      refused: (topic, code) => metrics.outputsRefused.inc({ topic, code }),
      skipped: (topic, n) => metrics.recordsSkipped.inc({ topic }, n),
    },
  });

  const health = () => model?.health?.();
  const status = (): ScorerStatus => {
    const h = health();
    const modelOk = model !== undefined && (h === undefined || h.state === 'ok' || h.state === 'restarting');
    return {
      ready: modelOk && joined && !stopping,
      live: h === undefined || h.state !== 'failed',
      model: model ? { name: model.info.name, version: model.info.version, provider: model.info.provider, state: h?.state ?? 'ok', workerRestarts: h?.restarts ?? 0 } : null,
      delivery: config.DELIVERY,
      kafkaClient: transport.client,
      groupId: config.GROUP_ID,
      assignment,
      inFlight: transport.inFlight,
      heldPartitions: transport.held,
    };
  };
  const server = await startStatusServer(config.STATUS_HOST, config.STATUS_PORT, registry, status);

  try {
    model = await loadPredictor(config, logger, metrics);
  } catch (err) {
    await closeQuietly(server);
    throw err;
  }
  const { name, version, provider } = model.info;
  metrics.modelInfo.set({ model: name, version, provider }, 1);
  logger.info({ model: name, version, provider }, 'model loaded');

  const pipeline = new Pipeline(
    model,
    {
      outputTopic: config.OUTPUT_TOPIC,
      dlqTopic: config.DLQ_TOPIC,
      decode: { format: config.INPUT_FORMAT, textField: config.TEXT_FIELD, idField: config.ID_FIELD, maxTextBytes: config.MAX_TEXT_BYTES },
      batch: { maxSize: config.BATCH_MAX_SIZE, maxWaitMs: config.BATCH_MAX_WAIT_MS },
    },
    logger,
    {
      batchScored(size, timings) {
        metrics.batchSize.observe(size);
        metrics.tokenizeSeconds.observe(timings.tokenizeMs / 1000);
        metrics.inferenceSeconds.observe(timings.inferenceMs / 1000);
      },
      batchRetried: () => metrics.batchRetries.inc(),
    },
  );

  const tracing = await startTracing(tracingConfig, { consumerGroup: config.GROUP_ID, model: { name, version, provider }, serviceName: 'sentiment-stream-scorer', logger });
  if (tracingConfig.enabled) logger.info({ endpoint: tracingConfig.endpoint, sampler: tracingConfig.sampler }, 'exporting traces over OTLP/HTTP');

  const onBatch = (batch: InputBatch) => {
    const trace = tracing.batch(batch.records);
    trace.score(() => pipeline.process(batch.records)).then(
      (outputs) => trace.publish(outputs, (o) => batch.ack(o)),
      (err: Error) => {
        trace.fail(err);
        // Nothing of these records is published or committed: they are read again after the restart.
        batch.release(err);
        if (!stopping) fail(err instanceof PipelineFailedError ? err : new Error(`scoring failed unexpectedly: ${err.message}`));
      },
    );
  };

  const onEvent = (e: TransportEvent) => {
    switch (e.type) {
      case 'assigned':
        assignment = e.assignment;
        joined = true;
        metrics.rebalances.inc();
        metrics.ready.set(1);
        logger.info({ assignment: e.assignment, client: transport.client }, 'joined the consumer group');
        return;
      case 'dropped':
        metrics.recordsDropped.inc(e.records);
        logger.debug({ records: e.records, why: e.why }, 'records dropped, to be read again');
        return;
      case 'records-skipped':
        return;
      case 'partition-held':
      case 'partition-released':
        metrics.partitionsHeld.set(transport.held.length);
        return;
      case 'warning':
        logger.warn({ err: e.err }, e.message);
        return;
      case 'fatal':
        joined = false;
        metrics.ready.set(0);
        fail(e.error);
        return;
    }
  };

  try {
    await transport.start({ batch: onBatch, event: onEvent });
  } catch (err) {
    await transport.stop(0).catch(() => undefined);
    await tracing.shutdown(TRACE_FLUSH_MS);
    await model.close().catch(() => undefined);
    await closeQuietly(server);
    throw err;
  }

  return {
    status,
    done,
    async stop() {
      stopping = true;
      metrics.ready.set(0);
      await transport.stop(Math.max(1_000, config.SHUTDOWN_TIMEOUT_MS - CLOSE_MARGIN_MS));
      await pipeline.close();
      await tracing.shutdown(TRACE_FLUSH_MS);
      await model?.close();
      await closeQuietly(server);
    },
  };
}

/** The shipped ONNX model, supervised, warmed up at the batch size it will mostly see. */
async function loadOnnxPredictor(config: ScorerConfig, logger: Logger, metrics: ScorerMetrics): Promise<ManagedPredictor> {
  const model = await loadModel(config.MODEL, {
    executionProviders: config.EXECUTION_PROVIDERS,
    ...(config.INTRA_OP_THREADS > 0 ? { intraOpThreads: config.INTRA_OP_THREADS } : {}),
    sessions: config.INFERENCE_SESSIONS,
    nice: config.INFERENCE_NICE,
    inferenceTimeoutMs: config.INFERENCE_TIMEOUT_MS,
    onWarning: (message) => logger.warn({}, message),
    onRestart: (e) => {
      metrics.workerRestarts.inc();
      logger.warn({ restarts: e.restarts, consecutiveFailures: e.consecutiveFailures, reason: e.reason }, 'model worker replaced');
    },
    onFailed: (err) => logger.error({ err: err.message }, 'the model worker keeps failing; giving up'),
  });
  await model.warmup(Math.min(config.BATCH_MAX_SIZE, 64));
  return model;
}

async function closeQuietly(server: FastifyInstance) {
  await server.close().catch(() => undefined);
}
