// Runs the real scorer as a child process (the built CLI), as a user or Kubernetes would.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kafkaBrokers } from './kafka.js';
import { freePort } from './net.js';

export { freePort };

const CLI = fileURLToPath(new URL('../../services/cli/dist/main.js', import.meta.url));

export interface ScorerProcess {
  readonly child: ChildProcess;
  readonly statusPort: number;
  /** Everything the process wrote, stdout and stderr interleaved. */
  output(): string;
  /** Resolves once /status says ready (model warm, group joined). */
  ready(timeoutMs?: number): Promise<void>;
  status(): Promise<Record<string, unknown>>;
  metrics(): Promise<string>;
  /** Sends `signal` and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}


/**
 * The Kafka client the suites run the scorer on: `make test-integration` and `make test-faults` run
 * once per client with KAFKA_CLIENT set; unset, the scorer's default.
 */
export function clientEnv(): Record<string, string> {
  return process.env.KAFKA_CLIENT ? { KAFKA_CLIENT: process.env.KAFKA_CLIENT } : {};
}

export async function startScorer(env: Record<string, string>): Promise<ScorerProcess> {
  const statusPort = Number(env.STATUS_PORT ?? (await freePort()));
  return spawnCli(['scorer'], { KAFKA_BROKERS: kafkaBrokers().join(','), STATUS_PORT: String(statusPort), LOG_LEVEL: 'warn', ...env }, statusPort);
}

export function spawnCli(args: string[], env: Record<string, string>, statusPort = 0): ScorerProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...clientEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const get = async (path: string) => fetch(`http://127.0.0.1:${statusPort}${path}`);
  return {
    child,
    statusPort,
    exited,
    output: () => out,
    async ready(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      let exitCode: number | null | undefined;
      void exited.then((c) => (exitCode = c));
      while (Date.now() < deadline) {
        if (exitCode !== undefined) throw new Error(`scorer exited (${exitCode}) before ready:\n${out}`);
        try {
          const res = await get('/status');
          if (res.ok && ((await res.json()) as { ready: boolean }).ready) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`scorer not ready after ${timeoutMs} ms:\n${out}`);
    },
    status: async () => (await get('/status')).json() as Promise<Record<string, unknown>>,
    metrics: async () => (await get('/metrics')).text(),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
