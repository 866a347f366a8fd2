import { ConfigError, integer, list, loadConfig, oneOf, string, type ConfigOf } from '@sentiment-stream/config';
import { checkKafkaSettings, kafkaSettings } from '@sentiment-stream/kafka';

/** Every setting of the metrics sidecar; docs/configuration.md is generated from this table's docs. */
export const sidecarSettings = {
  ...kafkaSettings,
  INPUT_TOPICS: list({ doc: "Topics whose consumer lag to read: the scorer's INPUT_TOPICS." }),
  GROUP_ID: string({ doc: "Consumer group whose lag to read: the scorer's GROUP_ID.", default: 'sentiment-scorer' }),
  METRICS_HOST: string({ doc: "Address of the sidecar's endpoint; it is the pod's scrape port, so all interfaces by default.", default: '0.0.0.0' }),
  METRICS_PORT: integer({ doc: 'Port of `/metrics`, `/healthz`, `/readyz` and the scorer probes `/scorer/readyz`, `/scorer/livez`.', default: 9464, min: 1, max: 65_535 }),
  SCORER_STATUS_URL: string({ doc: "Base URL of the scorer's status endpoint (its `/metrics` and `/status`).", default: 'http://127.0.0.1:9465' }),
  SCORER_TIMEOUT_MS: integer({ doc: "How long a scrape or a probe (`/readyz`, `/scorer/readyz`, `/scorer/livez`) waits for the scorer before counting it down.", default: 2_000, min: 100, max: 30_000 }),
  LAG_INTERVAL_MS: integer({
    doc: 'How often consumer lag is read from Kafka (never on the scrape path). `/readyz` fails when no read succeeded for 3 intervals.',
    default: 15_000,
    min: 1_000,
    max: 600_000,
  }),
  DRAIN_WINDOW_MS: integer({
    doc: 'Window over which the consumer group\'s committed-offset rate is measured for `sentiment_consumergroup_drain_seconds` (lag ÷ that rate). At least 2 × `LAG_INTERVAL_MS`; no estimate is exported until the sidecar has read for one whole window.',
    default: 120_000,
    min: 2_000,
    max: 3_600_000,
  }),
  DRAIN_MAX_SECONDS: integer({
    doc: 'Upper bound of the time-to-drain estimate, and its value when there is lag and the group committed nothing over the window (stalled, or not started): large enough that an autoscaler acts on it.',
    default: 86_400,
    min: 60,
    max: 31_536_000,
  }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const, { doc: 'Log level (JSON logs on stdout).', default: 'info' }),
};

export type SidecarConfig = ConfigOf<typeof sidecarSettings>;

export function loadSidecarConfig(env: NodeJS.ProcessEnv = process.env): SidecarConfig {
  const config = loadConfig(sidecarSettings, env);
  checkKafkaSettings(config);
  // Two reads at least, or the "rate" would be one interval's noise.
  if (config.DRAIN_WINDOW_MS < 2 * config.LAG_INTERVAL_MS) {
    throw new ConfigError('DRAIN_WINDOW_MS', `must be at least 2 × LAG_INTERVAL_MS (${2 * config.LAG_INTERVAL_MS}), so the rate spans two lag reads or more (got ${config.DRAIN_WINDOW_MS})`);
  }
  return { ...config, SCORER_STATUS_URL: baseUrl(config.SCORER_STATUS_URL) };
}

/** An http(s) URL without query or fragment, trailing slashes removed, so `${base}/metrics` is right. */
function baseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('SCORER_STATUS_URL', `must be an http:// or https:// URL (got ${JSON.stringify(raw)})`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new ConfigError('SCORER_STATUS_URL', `must be an http:// or https:// URL without query or fragment (got ${JSON.stringify(raw)})`);
  }
  return url.href.replace(/\/+$/, '');
}
