import { ConfigError } from '@sentiment-stream/config';
import { loadSidecarConfig } from './config.js';
import { createLogger } from './logger.js';
import { startSidecar } from './sidecar.js';

export { loadSidecarConfig, sidecarSettings, type SidecarConfig } from './config.js';
export { mergeExpositions, metricFamilies, type MergedExposition, type MetricFamily } from './merge.js';
export { readiness, startSidecar, type LagState, type RunningSidecar, type ScorerReadiness } from './sidecar.js';

/** The sidecar holds no work to drain; this only bounds closing sockets and the Kafka admin client. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * `sentiment-stream sidecar`: config from the environment, run until SIGTERM/SIGINT.
 * Returns the process exit code (2 for a bad configuration, like the scorer).
 */
export async function runSidecar(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config;
  try {
    config = loadSidecarConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sentiment-stream sidecar: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.LOG_LEVEL, 'metrics-sidecar');
  let sidecar;
  try {
    sidecar = await startSidecar(config, logger);
  } catch (err) {
    // Typically the port is taken (EADDRINUSE): one line, exit 1.
    logger.fatal({ err: (err as Error).message }, 'sidecar could not start');
    return 1;
  }
  logger.info(
    { port: sidecar.port, host: config.METRICS_HOST, scorer: config.SCORER_STATUS_URL, groupId: config.GROUP_ID, inputTopics: config.INPUT_TOPICS },
    'sidecar started',
  );

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'stopping');
  const deadline = setTimeout(() => {
    logger.error({ timeoutMs: STOP_TIMEOUT_MS }, 'stop took too long; exiting');
    process.exit(1);
  }, STOP_TIMEOUT_MS);
  await sidecar.stop();
  clearTimeout(deadline);
  logger.info({}, 'stopped cleanly');
  // A lag read against an unreachable Kafka cannot be cancelled and its client retries for minutes;
  // they must not keep a stopped sidecar alive. Unref'd, this fires only if something still holds
  // the event loop a second from now, and exits with the code the CLI set from our return value.
  setTimeout(() => process.exit(), 1_000).unref();
  return 0;
}
