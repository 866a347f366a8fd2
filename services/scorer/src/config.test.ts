import { describe, expect, it } from 'vitest';
import { loadScorerConfig } from './config.js';

describe('scorer configuration', () => {
  it('accepts bracketed IPv6 brokers and every client', () => {
    expect(loadScorerConfig({ INPUT_TOPICS: 'a', KAFKA_BROKERS: '[::1]:9092,kafka-0.kafka:19092' }).KAFKA_BROKERS).toEqual(['[::1]:9092', 'kafka-0.kafka:19092']);
    expect(loadScorerConfig({ INPUT_TOPICS: 'a', KAFKA_CLIENT: 'kafkajs' }).KAFKA_CLIENT).toBe('kafkajs');
  });

  it('needs only the input topics', () => {
    const c = loadScorerConfig({ INPUT_TOPICS: 'reviews, tweets' });
    expect(c.INPUT_TOPICS).toEqual(['reviews', 'tweets']);
    expect(c).toMatchObject({ DELIVERY: 'at-least-once', STATUS_HOST: '127.0.0.1', STATUS_PORT: 9465, SHUTDOWN_TIMEOUT_MS: 25_000, MODEL: 'sst2-bilstm' });
  });

  it.each([
    [{}, 'INPUT_TOPICS is required'],
    [{ INPUT_TOPICS: 'a', BATCH_MAX_SIZE: '0' }, 'BATCH_MAX_SIZE must be an integer from 1 to 4096 (got "0")'],
    [{ INPUT_TOPICS: 'a', EXECUTION_PROVIDERS: 'tpu' }, 'EXECUTION_PROVIDERS must be a comma-separated list of cuda, webgpu, cpu (got "tpu")'],
    [{ INPUT_TOPICS: 'a', DELIVERY: 'maybe' }, 'DELIVERY must be one of at-least-once, exactly-once (got "maybe")'],
    [{ INPUT_TOPICS: 'a', KAFKA_SASL_MECHANISM: 'plain' }, 'KAFKA_SASL_USERNAME is required when KAFKA_SASL_MECHANISM=plain'],
    [{ INPUT_TOPICS: 'a,sentiment-dlq' }, 'INPUT_TOPICS must not include the output or dead-letter topic "sentiment-dlq"'],
    // Configuration edges (issue: an empty value silently meant the default, host:port was checked
    // only with SASL, the output and DLQ topics could be one, a CA file that cannot be read failed
    // only after the model had loaded and then never exited).
    [{ INPUT_TOPICS: 'a', KAFKA_BROKERS: '' }, 'KAFKA_BROKERS is set but empty: give a comma-separated list of non-empty names, or unset it for the default (127.0.0.1:9092)'],
    [{ INPUT_TOPICS: 'a', OUTPUT_TOPIC: ' ' }, 'OUTPUT_TOPIC is set but empty'],
    [{ INPUT_TOPICS: 'a', TRANSACTIONAL_ID: '' }, 'TRANSACTIONAL_ID is set but empty'],
    [{ INPUT_TOPICS: 'a', KAFKA_BROKERS: 'kafka-0' }, 'KAFKA_BROKERS must list host:port pairs with a port from 1 to 65535 (got "kafka-0")'],
    [{ INPUT_TOPICS: 'a', KAFKA_BROKERS: 'kafka-0:9092,kafka-1:99999' }, 'KAFKA_BROKERS must list host:port pairs with a port from 1 to 65535 (got "kafka-1:99999")'],
    [{ INPUT_TOPICS: 'a', KAFKA_BROKERS: 'http://kafka:9092' }, 'KAFKA_BROKERS must list host:port pairs'],
    [{ INPUT_TOPICS: 'a', OUTPUT_TOPIC: 'x', DLQ_TOPIC: 'x' }, 'DLQ_TOPIC must differ from OUTPUT_TOPIC (both are "x")'],
    [{ INPUT_TOPICS: 'a', KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' }, 'KAFKA_SSL_CA_FILE names a file that cannot be read (ENOENT)'],
    [{ INPUT_TOPICS: 'a', KAFKA_SSL_CA_FILE: '/etc/hostname' }, 'KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true'],
    [{ INPUT_TOPICS: 'a', KAFKA_CLIENT: 'kafkajs', GROUP_INSTANCE_ID: 'pod-0' }, 'GROUP_INSTANCE_ID needs KAFKA_CLIENT=platformatic'],
    [{ INPUT_TOPICS: 'a', TRANSACTIONAL_ID: 'tx' }, 'TRANSACTIONAL_ID is set but DELIVERY is not exactly-once'],
    [{ INPUT_TOPICS: 'a', KAFKA_CLIENT: 'librdkafka' }, 'KAFKA_CLIENT must be one of platformatic, kafkajs (got "librdkafka")'],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => loadScorerConfig(env)).toThrow(message);
  });

  it('never echoes a bad secret', () => {
    expect(() => loadScorerConfig({ INPUT_TOPICS: 'a', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' })).toThrow(
      'KAFKA_SASL_PASSWORD is required',
    );
  });
});
