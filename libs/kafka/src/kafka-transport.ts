import { hostname } from 'node:os';
import type { Logger } from './client.js';
import { createKafka } from './client.js';
import { createKafkajsDriver, type DriverOptions } from './kafkajs-driver.js';
import { createPlatformaticDriver } from './platformatic-driver.js';
import type { KafkaSettings, TransportSettings } from './settings.js';
import { createTransport, type Transport, type TransportObserver } from './transport.js';
import { findUndecodable } from './undecodable.js';

export interface KafkaTransportOptions {
  inputTopics: string[];
  outputTopic: string;
  dlqTopic: string;
  /** Bytes of the original value a dead letter keeps when the whole record would not fit the DLQ topic. */
  dlqValuePrefixBytes: number;
  logger: Logger;
  observer?: TransportObserver;
}

/** Rebalance timeout of both clients; the drain before a rejoin or a rewind waits at most a third of it. */
const REBALANCE_TIMEOUT_MS = 60_000;

/** The transport over the client library KAFKA_CLIENT names, configured from the validated settings. */
export function createKafkaTransport(s: KafkaSettings & TransportSettings, o: KafkaTransportOptions): Transport {
  const exactlyOnce = s.DELIVERY === 'exactly-once';
  const common: DriverOptions = {
    groupId: s.GROUP_ID,
    topics: o.inputTopics,
    exactlyOnce,
    // Stable across restarts of one pod (the chart sets GROUP_INSTANCE_ID to the pod name): a
    // restarted replica fences its old self and aborts its open transaction at once.
    transactionalId: s.TRANSACTIONAL_ID ?? `${s.GROUP_ID}-${s.GROUP_INSTANCE_ID ?? hostname()}`,
    transactionTimeoutMs: s.TRANSACTION_TIMEOUT_MS,
    sessionTimeoutMs: s.SESSION_TIMEOUT_MS,
    fetchMaxBytes: s.FETCH_MAX_BYTES,
    compression: s.PRODUCER_COMPRESSION,
    logger: o.logger,
  };
  let onDecodeError: ((err: Error) => void) | undefined;
  const driver =
    s.KAFKA_CLIENT === 'kafkajs'
      ? createKafkajsDriver(createKafka(s, o.logger, { onFetchDecodeError: (err) => onDecodeError?.(err) }), s, { ...common, decodeErrors: (listener) => (onDecodeError = listener) })
      : createPlatformaticDriver(s, {
          ...common,
          groupInstanceId: s.GROUP_INSTANCE_ID,
          rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
          // Enough for a couple of inference batches ahead; the transport pauses the stream beyond MAX_INFLIGHT_MESSAGES.
          highWaterMark: Math.min(1024, s.MAX_INFLIGHT_MESSAGES),
        });
  return createTransport(driver, {
    delivery: s.DELIVERY,
    inputTopics: o.inputTopics,
    outputTopic: o.outputTopic,
    dlqTopic: o.dlqTopic,
    maxInFlight: s.MAX_INFLIGHT_MESSAGES,
    outputRetryMaxMs: s.OUTPUT_RETRY_MAX_MS,
    drainTimeoutMs: REBALANCE_TIMEOUT_MS / 3,
    dlqValuePrefixBytes: o.dlqValuePrefixBytes,
    findUndecodable: (positions) => findUndecodable(s, positions),
    logger: o.logger,
    ...(o.observer ? { observer: o.observer } : {}),
  });
}
