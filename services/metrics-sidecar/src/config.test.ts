import { describeSchema } from '@sentiment-stream/config';
import { describe, expect, it } from 'vitest';
import { loadSidecarConfig, sidecarSettings } from './config.js';

describe('sidecar configuration', () => {
  it('needs only the input topics', () => {
    const c = loadSidecarConfig({ INPUT_TOPICS: 'reviews, tweets' });
    expect(c).toMatchObject({
      INPUT_TOPICS: ['reviews', 'tweets'],
      GROUP_ID: 'sentiment-scorer',
      METRICS_HOST: '0.0.0.0',
      METRICS_PORT: 9464,
      SCORER_STATUS_URL: 'http://127.0.0.1:9465',
      SCORER_TIMEOUT_MS: 2_000,
      LAG_INTERVAL_MS: 15_000,
      DRAIN_WINDOW_MS: 120_000,
      DRAIN_MAX_SECONDS: 86_400,
      LOG_LEVEL: 'info',
      KAFKA_BROKERS: ['127.0.0.1:9092'],
    });
  });

  it('drops trailing slashes from SCORER_STATUS_URL so paths append cleanly', () => {
    expect(loadSidecarConfig({ INPUT_TOPICS: 'a', SCORER_STATUS_URL: 'http://localhost:9000/scorer/' }).SCORER_STATUS_URL).toBe('http://localhost:9000/scorer');
  });

  it('accepts a short drain window with a short lag interval (as the integration suite runs it)', () => {
    expect(loadSidecarConfig({ INPUT_TOPICS: 'a', LAG_INTERVAL_MS: '1000', DRAIN_WINDOW_MS: '2000' }).DRAIN_WINDOW_MS).toBe(2_000);
  });

  it.each([
    [{}, 'INPUT_TOPICS is required'],
    [{ INPUT_TOPICS: 'a', METRICS_PORT: '70000' }, 'METRICS_PORT must be an integer from 1 to 65535 (got "70000")'],
    [{ INPUT_TOPICS: 'a', LAG_INTERVAL_MS: '10' }, 'LAG_INTERVAL_MS must be an integer from 1000 to 600000 (got "10")'],
    [{ INPUT_TOPICS: 'a', SCORER_STATUS_URL: 'localhost:9465' }, 'SCORER_STATUS_URL must be an http:// or https:// URL'],
    [{ INPUT_TOPICS: 'a', SCORER_STATUS_URL: 'not a url' }, 'SCORER_STATUS_URL must be an http:// or https:// URL (got "not a url")'],
    [{ INPUT_TOPICS: 'a', SCORER_STATUS_URL: 'http://x/?a=1' }, 'without query or fragment'],
    [{ INPUT_TOPICS: 'a', DRAIN_WINDOW_MS: '20000' }, 'DRAIN_WINDOW_MS must be at least 2 × LAG_INTERVAL_MS (30000), so the rate spans two lag reads or more (got 20000)'],
    [{ INPUT_TOPICS: 'a', LAG_INTERVAL_MS: '1000', DRAIN_WINDOW_MS: '1000' }, 'DRAIN_WINDOW_MS must be an integer from 2000 to 3600000 (got "1000")'],
    [{ INPUT_TOPICS: 'a', DRAIN_MAX_SECONDS: '0' }, 'DRAIN_MAX_SECONDS must be an integer from 60 to 31536000 (got "0")'],
    [{ INPUT_TOPICS: 'a', LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace (got "loud")'],
    [{ INPUT_TOPICS: 'a', KAFKA_SASL_MECHANISM: 'plain' }, 'KAFKA_SASL_USERNAME is required when KAFKA_SASL_MECHANISM=plain'],
  ])('rejects %j with one line naming the variable', (env, message) => {
    expect(() => loadSidecarConfig(env)).toThrow(message);
    try {
      loadSidecarConfig(env);
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('documents every setting for docs/configuration.md', () => {
    const table = describeSchema(sidecarSettings);
    for (const name of ['INPUT_TOPICS', 'GROUP_ID', 'METRICS_HOST', 'METRICS_PORT', 'SCORER_STATUS_URL', 'LAG_INTERVAL_MS', 'DRAIN_WINDOW_MS', 'DRAIN_MAX_SECONDS', 'KAFKA_BROKERS']) {
      expect(table).toContain(`| \`${name}\` |`);
    }
  });
});
