import { ConfigError } from '@sentiment-stream/config';
import type { Logger } from 'pino';
import { describeError } from './describe-error.js';
import { createLogger } from './logger.js';

/** What a started service gives back: how to stop it and, optionally, a promise that rejects when it fails on its own. */
export interface RunningService {
  stop(): Promise<void>;
  /**
   * Rejects when the service has failed in a way it cannot recover from by itself (the Kafka
   * transport's fatal event, a model worker that keeps dying): the runtime then stops it and
   * exits non-zero so the orchestrator restarts it. Never resolves while the service runs.
   */
  readonly done?: Promise<void>;
}

export interface ServiceDefinition<C, S extends RunningService> {
  /** The CLI command, for messages: `sentiment-stream <name>`. */
  name: string;
  loadConfig(env: NodeJS.ProcessEnv): C;
  logLevel(config: C): string;
  start(config: C, logger: Logger): Promise<S>;
  /** Fields of the "started" log line. */
  describe(config: C, service: S): object;
  /** How long a stop may take before the process exits 1 with the rest left undone. */
  stopTimeoutMs(config: C): number;
}

/** Client libraries (kafkajs after an outage) can leave sockets open; a stopped process still exits. */
const LINGER_MS = 2_000;
/** A service that could not start exits this soon even if something it opened still holds the loop. */
const FAILED_START_EXIT_MS = 500;

type Reason = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'failed'; err: Error; origin: string };

/**
 * The lifecycle both services share, and the only place that exits the process:
 * - settings from the environment: a bad one is one line on stderr and exit 2;
 * - start: a failure is one log line and exit 1 within a second, whatever it left open;
 * - run until SIGTERM/SIGINT (exit 0 after a clean stop), or until the service fails on its own
 *   (`done` rejects) or anything throws where nobody catches it (an unhandled rejection or an
 *   uncaught exception anywhere in the process): log it with its stack, stop gracefully, exit 1;
 * - a stop that outlives the timeout exits 1 with the rest left undone (uncommitted records are
 *   consumed again by whoever takes the partitions).
 * Returns the exit code.
 */
export async function runService<C, S extends RunningService>(def: ServiceDefinition<C, S>, env: NodeJS.ProcessEnv): Promise<number> {
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

  // Installed before start, so a throw during start-up is handled the same way.
  let failed: (reason: Reason) => void = () => undefined;
  const failure = new Promise<Reason>((resolve) => (failed = resolve));
  const onRejection = (reason: unknown) => failed({ kind: 'failed', err: asError(reason), origin: 'unhandled rejection' });
  const onException = (err: Error) => failed({ kind: 'failed', err, origin: 'uncaught exception' });
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  // Before start too: a SIGTERM while the model loads or Kafka is still unreachable ends start-up.
  const onSignal = (signal: NodeJS.Signals) => failed({ kind: 'signal', signal });
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  let service: S;
  try {
    service = await Promise.race([def.start(config, logger), failure.then((r) => Promise.reject(r))]);
  } catch (err) {
    if ((err as Reason).kind === 'signal') {
      logger.info({ signal: (err as Reason & { kind: 'signal' }).signal }, `${def.name} stopped during start-up`);
      setTimeout(() => process.exit(0), FAILED_START_EXIT_MS).unref();
      return 0;
    }
    const e = (err as Reason).kind === 'failed' ? (err as Reason & { kind: 'failed' }).err : err;
    logger.fatal({ err: describeError(e) }, `${def.name} could not start`);
    // Whatever start-up opened (a status server, a half-connected client) must not hold the pod
    // not-ready for ever: exit soon even if the event loop is not empty.
    setTimeout(() => process.exit(1), FAILED_START_EXIT_MS).unref();
    return 1;
  }
  logger.info(def.describe(config, service), `${def.name} started`);

  service.done?.catch((err: unknown) => failed({ kind: 'failed', err: asError(err), origin: 'service' }));

  const reason = await failure;
  const timeoutMs = def.stopTimeoutMs(config);
  if (reason.kind === 'signal') logger.info({ signal: reason.signal, timeoutMs }, 'draining');
  else logger.fatal({ err: describeError(reason.err), stack: reason.err.stack, origin: reason.origin, timeoutMs }, `${def.name} failed; stopping`);
  const code = reason.kind === 'signal' ? 0 : 1;
  const deadline = setTimeout(() => {
    logger.error({ timeoutMs }, 'stopping took too long; exiting with work undone (uncommitted records are consumed again)');
    process.exit(1);
  }, timeoutMs);
  try {
    await service.stop();
  } catch (err) {
    logger.error({ err: asError(err).message }, 'stop failed; exiting with work undone (uncommitted records are consumed again)');
    clearTimeout(deadline);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), LINGER_MS).unref();
    return 1;
  }
  clearTimeout(deadline);
  logger.info({}, code === 0 ? 'stopped cleanly' : 'stopped after a failure');
  // Everything is committed and closed, yet after a broker outage kafkajs can leave a broker socket
  // and timers open (the fault suite caught a scorer that logged "stopped cleanly" and never
  // exited), which would hold the pod until SIGKILL. Unref'd: a clean exit is not delayed.
  setTimeout(() => {
    logger.warn({ resources: process.getActiveResourcesInfo() }, 'handles still open after a stop; exiting');
    process.exit(code);
  }, LINGER_MS).unref();
  return code;
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(typeof value === 'string' ? value : JSON.stringify(value) ?? String(value));
}
