import { runService } from '@sentiment-stream/runtime';
import { loadSidecarConfig } from './config.js';
import { startSidecar } from './sidecar.js';

export { loadSidecarConfig, sidecarSettings, type SidecarConfig } from './config.js';
export { mergeExpositions, metricFamilies, type MergedExposition, type MetricFamily } from './merge.js';
export {
  parseScorerStatus,
  readiness,
  scorerLiveness,
  scorerReadiness,
  startSidecar,
  type LagState,
  type ProbeReason,
  type ProbeResult,
  type RunningSidecar,
  type ScorerStatus,
} from './sidecar.js';

/** The sidecar holds no work to drain; this only bounds closing sockets and the Kafka admin client. */
const STOP_TIMEOUT_MS = 10_000;

/** `sentiment-stream sidecar`: config from the environment, run until SIGTERM/SIGINT. */
export function runSidecar(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return runService(
    {
      name: 'sidecar',
      loadConfig: loadSidecarConfig,
      logLevel: (c) => c.LOG_LEVEL,
      start: startSidecar,
      describe: (c, sidecar) => ({ port: sidecar.port, host: c.METRICS_HOST, scorer: c.SCORER_STATUS_URL, groupId: c.GROUP_ID, inputTopics: c.INPUT_TOPICS }),
      stopTimeoutMs: () => STOP_TIMEOUT_MS,
    },
    env,
  );
}
