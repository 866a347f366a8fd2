import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { registerKafkajsCodecs } from './codecs.js';
import { isDecodeError } from './undecodable.js';
import type { KafkaSettings } from './settings.js';

/** The slice of a pino-style logger this package writes to. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface KafkaHooks {
  /**
   * kafkajs logs a fetch whose response it cannot decode and retries it, for minutes, before its
   * consumer crashes: the log line is the first (and only early) sign of a corrupt batch.
   */
  onFetchDecodeError?: (err: Error) => void;
}

export function createKafka(settings: KafkaSettings, logger: Logger, hooks: KafkaHooks = {}): Kafka {
  registerKafkajsCodecs();
  const config: KafkaConfig = {
    clientId: settings.KAFKA_CLIENT_ID,
    brokers: settings.KAFKA_BROKERS,
    ssl: settings.KAFKA_SSL ? tlsOptions(settings) : false,
    connectionTimeout: 3_000,
    // Retries back off up to 30 s so an unreachable cluster does not flood the log.
    retry: { initialRetryTime: 300, maxRetryTime: 30_000, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      if (hooks.onFetchDecodeError && entry.level === logLevel.ERROR && entry.log.message.startsWith('Response Fetch')) {
        const error = new Error(String((entry.log as Record<string, unknown>).error ?? entry.log.message));
        if (isDecodeError(error)) hooks.onFetchDecodeError(error);
      }
      forward(logger, entry);
    },
  };
  const sasl = saslOptions(settings);
  if (sasl) config.sasl = sasl;
  return new Kafka(config);
}

function tlsOptions(s: KafkaSettings): true | { ca: string[] } {
  return s.KAFKA_SSL_CA_FILE ? { ca: [readFileSync(s.KAFKA_SSL_CA_FILE, 'utf8')] } : true;
}

function saslOptions(s: KafkaSettings): SASLOptions | undefined {
  if (s.KAFKA_SASL_MECHANISM === 'none') return undefined;
  return {
    mechanism: s.KAFKA_SASL_MECHANISM,
    username: s.KAFKA_SASL_USERNAME ?? '',
    password: s.KAFKA_SASL_PASSWORD ?? '',
  } as SASLOptions;
}

/** Broker answers kafkajs retries by itself (Kafka's retriable error codes, in kafkajs's words). */
const TRANSIENT =
  /coordinator is loading|coordinator is not available|not the correct coordinator|leader is not available|not the leader|another concurrent operation|rebalance in progress|group is rebalancing|connection error|ECONNREFUSED|Connection timeout|NOT_ENOUGH_REPLICAS|There is no leader/i;

function forward(logger: Logger, { level, label, log }: LogEntry): void {
  const { message, ...rest } = log;
  // kafkajs puts SASL and connection details in its log objects; drop anything that could hold a secret.
  delete (rest as Record<string, unknown>).sasl;
  delete (rest as Record<string, unknown>).password;
  // Connection errors repeat on every retry; their stacks say nothing new outside debugging.
  if (level !== logLevel.DEBUG) delete (rest as Record<string, unknown>).stack;
  const fields = { component: 'kafkajs', namespace: rest.namespace, ...rest };
  const text = `${label} ${message}`;
  // kafkajs logs the broker's expected, retried answers at ERROR (a group forming, a coordinator
  // moving, a leader election): a new user's first `make demo` showed them as errors. They are
  // retried and resolve on their own, so they are info here; anything else keeps its level.
  if (level === logLevel.ERROR && TRANSIENT.test(`${message} ${String((rest as Record<string, unknown>).error ?? '')}`)) logger.info(fields, text);
  // The transport retries whole sends itself (kafkajs-driver.ts), which this warning does not know.
  else if (level === logLevel.WARN && message.startsWith('Limiting retries for the idempotent producer')) logger.debug(fields, text);
  else if (level === logLevel.ERROR || level === logLevel.NOTHING) logger.error(fields, text);
  else if (level === logLevel.WARN) logger.warn(fields, text);
  else if (level === logLevel.INFO) logger.info(fields, text);
  else logger.debug(fields, text);
}
