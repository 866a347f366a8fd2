import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

/** Latency buckets in seconds: from sub-millisecond batches to multi-second backlogs. */
const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];

/**
 * Every metric the scorer exports, registered on the registry passed in. Labels are bounded:
 * topics, labels of the model and error codes; never an id or a text.
 */
export function createScorerMetrics(registry: Registry) {
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  return {
    consumed: new Counter({ name: 'sentiment_messages_consumed_total', help: 'Input records received, by topic.', labelNames: ['topic'], registers }),
    produced: new Counter({ name: 'sentiment_events_produced_total', help: 'sentiment.v1 events acknowledged by the broker, by label.', labelNames: ['label'], registers }),
    deadLetters: new Counter({ name: 'sentiment_dead_letters_total', help: 'Records sent to the dead-letter topic, by x-error-code.', labelNames: ['code'], registers }),
    batchSize: new Histogram({ name: 'sentiment_batch_size', help: 'Texts per inference batch.', buckets: batchBuckets, registers }),
    tokenizeSeconds: new Histogram({ name: 'sentiment_tokenize_duration_seconds', help: 'Tokenization time per batch.', buckets: latencyBuckets, registers }),
    inferenceSeconds: new Histogram({ name: 'sentiment_inference_duration_seconds', help: 'ONNX Runtime time per batch.', buckets: latencyBuckets, registers }),
    endToEndSeconds: new Histogram({ name: 'sentiment_end_to_end_latency_seconds', help: "From the input record's timestamp to the broker's acknowledgement of its output.", buckets: latencyBuckets, registers }),
    inFlight: new Gauge({ name: 'sentiment_inflight_messages', help: 'Records received and not yet committed.', registers }),
    commits: new Counter({ name: 'sentiment_commits_total', help: 'Offset commits (in transactions too), by result.', labelNames: ['result'], registers }),
    rebalances: new Counter({ name: 'sentiment_rebalances_total', help: 'Consumer group joins (each rebalance ends in one).', registers }),
    modelInfo: new Gauge({ name: 'sentiment_model_info', help: 'The model being served; always 1.', labelNames: ['model', 'version', 'provider'], registers }),
    outputsRefused: new Counter({ name: 'sentiment_outputs_refused_total', help: 'Outputs the broker refused for good (not a transient error), by destination topic and Kafka error code; each holds its input partition.', labelNames: ['topic', 'code'], registers }),
    partitionsHeld: new Gauge({ name: 'sentiment_partitions_held', help: 'Input partitions held at a record whose output the broker refuses (retried with backoff).', registers }),
    recordsSkipped: new Counter({ name: 'sentiment_records_skipped_total', help: 'Input records skipped because their batch cannot be decoded by any client (corrupt bytes); a CORRUPT_BATCH dead letter names each range.', labelNames: ['topic'], registers }),
    recordsDropped: new Counter({ name: 'sentiment_records_dropped_total', help: 'Records handed out and then dropped unpublished, to be read again: their partition moved (rebalance) or was read again (rewind).', registers }),
    batchRetries: new Counter({ name: 'sentiment_batch_retries_total', help: 'Inference batches scored again because their model worker died or hung.', registers }),
    workerRestarts: new Counter({ name: 'sentiment_model_worker_restarts_total', help: 'Model worker threads replaced after dying, hanging past INFERENCE_TIMEOUT_MS or failing to start.', registers }),
    ready: new Gauge({ name: 'sentiment_scorer_ready', help: '1 when the model is warm and the consumer has joined its group.', registers }),
  };
}

export type ScorerMetrics = ReturnType<typeof createScorerMetrics>;
