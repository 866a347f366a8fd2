import { ConfigError } from '@sentiment-stream/config';
import type { Logger } from 'pino';
import { createLogger } from './logger.js';

export interface ServiceDefinition<C, S extends { stop(): Promise<void> }> {
  /** The CLI command, for messages: `sentiment-stream <name>`. */
  name: string;
  loadConfig(env: NodeJS.ProcessEnv): C;
  logLevel(config: C): string;
  start(config: C, logger: Logger): Promise<S>;
  /** Fields of the "started" log line. */
  describe(config: C, service: S): object;
  /** How long SIGTERM may take before the process exits 1 with the rest left undone. */
  stopTimeoutMs(config: C): number;
}

/** Client libraries (kafkajs after an outage) can leave sockets open; a stopped process still exits. */
const LINGER_MS = 2_000;

/**
 * The lifecycle both services share: settings from the environment (a bad one is one line and exit
 * 2), start (failure: one log line, exit 1), run until SIGTERM/SIGINT, stop within the timeout.
 * Returns the exit code.
 */
export async function runService<C, S extends { stop(): Promise<void> }>(def: ServiceDefinition<C, S>, env: NodeJS.ProcessEnv): Promise<number> {
  let config: C;
  try {
    config = def.loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sentiment-stream ${def.name}: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(def.logLevel(config), def.name);
  let service: S;
  try {
    service = await def.start(config, logger);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, `${def.name} could not start`);
    return 1;
  }
  logger.info(def.describe(config, service), `${def.name} started`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const timeoutMs = def.stopTimeoutMs(config);
  logger.info({ signal, timeoutMs }, 'draining');
  const deadline = setTimeout(() => {
    logger.error({ timeoutMs }, 'stopping took too long; exiting with work undone (uncommitted records are consumed again)');
    process.exit(1);
  }, timeoutMs);
  await service.stop();
  clearTimeout(deadline);
  logger.info({}, 'stopped cleanly');
  // Everything is committed and closed, yet after a broker outage kafkajs can leave a broker socket
  // and timers open (the fault suite caught a scorer that logged "stopped cleanly" and never
  // exited), which would hold the pod until SIGKILL. Unref'd: a clean exit is not delayed.
  setTimeout(() => {
    logger.warn({ resources: process.getActiveResourcesInfo() }, 'handles still open after a clean stop; exiting');
    process.exit(0);
  }, LINGER_MS).unref();
  return 0;
}
