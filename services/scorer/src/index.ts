import { runService } from '@sentiment-stream/runtime';
import { loadScorerConfig } from './config.js';
import { startScorer } from './scorer.js';

export { loadScorerConfig, scorerSettings, type ScorerConfig } from './config.js';
export type { ManagedPredictor, Predictor } from './predictor.js';
export { startScorer, type RunningScorer } from './scorer.js';

/** `sentiment-stream scorer`: config from the environment, run until SIGTERM/SIGINT, then drain. */
export function runScorer(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return runService(
    {
      name: 'scorer',
      loadConfig: loadScorerConfig,
      logLevel: (c) => c.LOG_LEVEL,
      start: startScorer,
      describe: (c) => ({ inputTopics: c.INPUT_TOPICS, groupId: c.GROUP_ID, delivery: c.DELIVERY, kafkaClient: c.KAFKA_CLIENT }),
      stopTimeoutMs: (c) => c.SHUTDOWN_TIMEOUT_MS,
    },
    env,
  );
}
