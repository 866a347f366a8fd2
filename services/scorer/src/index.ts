import { ConfigError } from '@sentiment-stream/config';
import { loadScorerConfig } from './config.js';
import { createLogger } from './logger.js';
import { startScorer } from './scorer.js';

export { loadScorerConfig, scorerSettings, type ScorerConfig } from './config.js';
export type { ManagedPredictor, Predictor } from './predictor.js';
export { startScorer, type RunningScorer } from './scorer.js';

/**
 * `sentiment-stream scorer`: config from the environment, run until SIGTERM/SIGINT, then drain.
 * Returns the process exit code.
 */
export async function runScorer(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config;
  try {
    config = loadScorerConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sentiment-stream scorer: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.LOG_LEVEL, 'scorer');
  let scorer;
  try {
    scorer = await startScorer(config, logger);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'scorer could not start');
    return 1;
  }
  logger.info({ inputTopics: config.INPUT_TOPICS, groupId: config.GROUP_ID, delivery: config.DELIVERY }, 'scorer started');

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'draining');
  const deadline = setTimeout(() => {
    logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'drain took too long; exiting with work uncommitted (it will be consumed again)');
    process.exit(1);
  }, config.SHUTDOWN_TIMEOUT_MS);
  await scorer.stop();
  clearTimeout(deadline);
  logger.info({}, 'stopped cleanly');
  // Everything is committed and closed here, yet after a broker outage kafkajs can leave a broker
  // socket open (the fault suite's broker-outage scenario caught a scorer that logged "stopped
  // cleanly" and never exited), which would hold the pod until SIGKILL. If the event loop has not
  // drained shortly, say what is still open and exit; unref'd, so a clean exit is not delayed.
  setTimeout(() => {
    logger.warn({ resources: process.getActiveResourcesInfo() }, 'handles still open after a clean stop; exiting');
    process.exit(0);
  }, 2_000).unref();
  return 0;
}
