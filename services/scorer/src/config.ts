import { ConfigError, integer, list, loadConfig, oneOf, string, type ConfigOf } from '@sentiment-stream/config';
import { checkKafkaSettings, checkTransportSettings, kafkaSettings, transportSettings } from '@sentiment-stream/kafka';

/** Every setting of the scorer; docs/configuration.md is generated from this table's docs. */
export const scorerSettings = {
  ...kafkaSettings,
  ...transportSettings,
  INPUT_TOPICS: list({ doc: 'Topics to score, comma-separated.' }),
  OUTPUT_TOPIC: string({ doc: 'Topic for `sentiment.v1` events.', default: 'sentiment-events' }),
  DLQ_TOPIC: string({ doc: 'Dead-letter topic for records that cannot be scored.', default: 'sentiment-dlq' }),
  DLQ_VALUE_PREFIX_BYTES: integer({
    doc: "A dead letter larger than the DLQ topic's max.message.bytes keeps its headers and this many bytes of the original value, with `x-original-size` and `x-original-sha256` (docs/events.md).",
    default: 4_096,
    min: 0,
    max: 1 << 20,
  }),
  MODEL: string({ doc: 'Model name under `models/`, or a path to a model folder.', default: 'sst2-bilstm' }),
  EXECUTION_PROVIDERS: list({
    doc: 'ONNX Runtime providers in order of preference; one that cannot start falls back to the next.',
    default: ['cpu'],
    values: ['cuda', 'webgpu', 'cpu'] as const,
  }),
  INFERENCE_SESSIONS: integer({
    doc: "ONNX Runtime sessions of the model that share each batch, each on a thread of its own (cpu provider; a GPU provider runs one). Match it to the pod's CPU limit, with INTRA_OP_THREADS 1: on 2 cores, two sessions of one thread beat one of two, since a session's threads meet at every LSTM step and wait whenever the Kafka thread or the broker takes a core (docs/performance.md, \"Two sessions\").",
    default: 2,
    min: 1,
    max: 64,
  }),
  INTRA_OP_THREADS: integer({
    doc: "ONNX Runtime intra-op threads of each session; 0 lets ONNX Runtime choose (one per core of the node, not of the pod). Sessions x threads should not pass the pod's CPU limit: Kafka and JSON take about a fifth of a core at full speed (docs/performance.md).",
    default: 1,
    min: 0,
    max: 256,
  }),
  INFERENCE_NICE: integer({
    doc: "Nice value of the inference threads (the model worker, its tokenizer and session threads, ONNX Runtime's pools): above the main thread's, so Kafka I/O and publishing run first when the cores are busy. p99 at 50 % load 40 -> 26 ms on 2 cores (docs/performance.md). 0: the same priority as the main thread.",
    default: 10,
    min: 0,
    max: 19,
  }),
  INFERENCE_TIMEOUT_MS: integer({
    doc: 'Limit on one model call (a batch). A call that outlives it means a hung worker: the worker is replaced and the batch scored again. 0: no limit.',
    default: 30_000,
    min: 0,
    max: 3_600_000,
  }),
  BATCH_MAX_SIZE: integer({ doc: 'Most texts per inference batch.', default: 256, min: 1, max: 4096 }),
  BATCH_MAX_WAIT_MS: integer({ doc: 'Longest a text waits for its batch to fill.', default: 5, min: 0, max: 10_000 }),
  INPUT_FORMAT: oneOf(['json', 'text'] as const, { doc: '`json`: an object with the text at TEXT_FIELD; `text`: the whole value is UTF-8 text.', default: 'json' }),
  TEXT_FIELD: string({ doc: 'JSON field holding the text.', default: 'text' }),
  ID_FIELD: string({ doc: 'JSON field holding the id (optional in each message).', default: 'id' }),
  MAX_TEXT_BYTES: integer({ doc: 'Longer texts go to the dead-letter topic (`TEXT_TOO_LARGE`).', default: 16_384, min: 1, max: 16 << 20 }),
  STATUS_HOST: string({ doc: 'Address of the status endpoint; keep it pod-local.', default: '127.0.0.1' }),
  STATUS_PORT: integer({ doc: 'Port of the status endpoint (`/metrics`, `/status`).', default: 9465, min: 1, max: 65_535 }),
  SHUTDOWN_TIMEOUT_MS: integer({ doc: 'On SIGTERM, finish in-flight work and exit within this time.', default: 25_000, min: 1_000, max: 600_000 }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const, { doc: 'Log level (JSON logs on stdout).', default: 'info' }),
};

export type ScorerConfig = ConfigOf<typeof scorerSettings>;

export function loadScorerConfig(env: NodeJS.ProcessEnv = process.env): ScorerConfig {
  const config = loadConfig(scorerSettings, env);
  checkKafkaSettings(config);
  checkTransportSettings(config);
  for (const topic of [config.OUTPUT_TOPIC, config.DLQ_TOPIC]) {
    if (config.INPUT_TOPICS.includes(topic)) throw new ConfigError('INPUT_TOPICS', `must not include the output or dead-letter topic "${topic}"`);
  }
  if (config.OUTPUT_TOPIC === config.DLQ_TOPIC) throw new ConfigError('DLQ_TOPIC', `must differ from OUTPUT_TOPIC (both are "${config.DLQ_TOPIC}"): consumers of events would read dead letters`);
  return config;
}
