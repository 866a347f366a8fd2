// Scorer processes for the fault scenarios: the real CLI (`sentiment-stream scorer`), or
// slow-scorer.mjs (the real startScorer and model, with delays injected into some batches). Each
// handle tracks its peak RSS (VmHWM) so a scenario can report it even for a process it SIGKILLs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kafkaBrokers } from '../../support/kafka.js';
import { freePort } from '../../support/scorer.js';

const CLI = fileURLToPath(new URL('../../../services/cli/dist/main.js', import.meta.url));
const SLOW = fileURLToPath(new URL('./slow-scorer.mjs', import.meta.url));
/** Keep the tail of a process's output only: a scenario runs long, and a failure needs the end. */
const OUTPUT_LIMIT = 256 * 1024;
/** Every scorer's whole output also goes to a file here, for the post-mortem of a failed scenario. */
export const LOG_DIR = process.env.FAULT_LOG_DIR ?? join(tmpdir(), `sentiment-stream-faults-${process.pid}`);

export interface Scorer {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly statusPort: number;
  readonly exited: Promise<number | null>;
  /** Exit code, null while running (or when a signal killed it: see `signal`). */
  exitCode(): number | null;
  running(): boolean;
  output(): string;
  ready(timeoutMs?: number): Promise<void>;
  metrics(): Promise<string>;
  status(): Promise<{ ready: boolean } & Record<string, unknown>>;
  /** Highest VmHWM (peak resident set) seen, in MiB; sampled now if the process still runs. */
  peakRssMb(): number;
  /** Current VmRSS in MiB, or undefined once the process is gone. */
  rssMb(): number | undefined;
  /** Time (epoch ms) of the first JSON log line with this `msg` (LOG_LEVEL info or lower), if any. */
  loggedAt(msg: string): number | undefined;
  /**
   * Sends `signal` and resolves with the exit code (null when a signal killed it). A process that
   * has not exited `graceMs` after SIGTERM is a defect: it is SIGKILLed and this rejects, with the
   * end of its output.
   */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

function procKb(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export async function launchScorer(name: string, env: Record<string, string>, opts: { slow?: boolean } = {}): Promise<Scorer> {
  const statusPort = await freePort();
  const child = spawn(process.execPath, opts.slow ? [SLOW] : [CLI, 'scorer'], {
    env: { PATH: process.env.PATH ?? '', KAFKA_BROKERS: kafkaBrokers().join(','), STATUS_PORT: String(statusPort), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  mkdirSync(LOG_DIR, { recursive: true });
  const file = createWriteStream(join(LOG_DIR, `${name}.log`));
  const append = (d: Buffer) => {
    file.write(d);
    out += d.toString();
    if (out.length > 2 * OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let code: number | null = null;
  let gone = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (c) => {
      code = c;
      gone = true;
      file.end();
      resolve(c);
    }),
  );
  const pid = child.pid!;
  let peakKb = 0;
  const sample = () => {
    if (gone) return;
    const kb = procKb(pid, 'VmHWM');
    if (kb !== undefined) peakKb = Math.max(peakKb, kb);
  };
  // VmHWM only grows, so sampling it now and then (and before every signal) loses nothing.
  const sampler = setInterval(sample, 500);
  void exited.then(() => clearInterval(sampler));
  const get = (path: string) => fetch(`http://127.0.0.1:${statusPort}${path}`, { signal: AbortSignal.timeout(5_000) });

  return {
    name,
    child,
    pid,
    statusPort,
    exited,
    exitCode: () => code,
    running: () => !gone,
    output: () => out,
    async ready(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (gone) throw new Error(`${name} exited (${code}) before it was ready:\n${out.slice(-4000)}`);
        try {
          const res = await get('/status');
          if (res.ok && ((await res.json()) as { ready: boolean }).ready) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${name} not ready after ${timeoutMs} ms:\n${out.slice(-4000)}`);
    },
    metrics: async () => (await get('/metrics')).text(),
    status: async () => (await get('/status')).json() as Promise<{ ready: boolean } & Record<string, unknown>>,
    peakRssMb() {
      sample();
      return peakKb / 1024;
    },
    rssMb() {
      const kb = gone ? undefined : procKb(pid, 'VmRSS');
      return kb === undefined ? undefined : kb / 1024;
    },
    loggedAt(msg: string) {
      const needle = `"msg":${JSON.stringify(msg)}`;
      const line = out.split('\n').find((l) => l.includes(needle));
      const time = line === undefined ? undefined : /"time":(\d+)/.exec(line)?.[1];
      return time === undefined ? undefined : Number(time);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 40_000) {
      sample();
      if (!gone) child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), graceMs)));
      const result = await Promise.race([exited, hung]);
      clearTimeout(timer);
      if (result !== 'hung') return result;
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${name} did not exit within ${graceMs} ms of ${signal}; killed. Its last output:\n${out.slice(-6000)}`);
    },
  };
}

/** Sum of every sample of `name` on a Prometheus text page (0 when absent). */
export function metricSum(page: string, name: string): number {
  let sum = 0;
  for (const line of page.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}
