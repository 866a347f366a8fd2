import { describe, expect, it } from 'vitest';
import { loadScorerConfig } from './config.js';

describe('scorer configuration', () => {
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
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => loadScorerConfig(env)).toThrow(message);
  });

  it('never echoes a bad secret', () => {
    expect(() => loadScorerConfig({ INPUT_TOPICS: 'a', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' })).toThrow(
      'KAFKA_SASL_PASSWORD is required',
    );
  });
});
