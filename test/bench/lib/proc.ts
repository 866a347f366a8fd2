// Child processes of the benchmark and what /proc says about them.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../support/net.js';
import { imageRuntime } from './image.js';

const SYSTEM = fileURLToPath(new URL('../system.mjs', import.meta.url));
/** Every system runs with the container image's node flags and runtime env, as the image runs the scorer. */
export const IMAGE = imageRuntime();
const CLK_TCK = 100; // getconf CLK_TCK on Linux

export interface ProcSample {
  /** utime + stime of every thread of the process, in seconds. */
  cpuS: number;
  rssMb: number;
  /** Peak resident set size so far (VmHWM). */
  hwmMb: number;
}

export function procSample(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { cpuS, rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** CPU seconds of the whole machine so far (all cores, busy time only), from /proc/stat. */
export function machineBusyS(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLK_TCK;
}


export interface SystemProcess {
  child: ChildProcess;
  pid: number;
  statusPort: number;
  startedAt: number;
  exited: Promise<number | null>;
  /** JSON lines the child printed on stdout (model-only's progress protocol). */
  onLine(fn: (obj: Record<string, unknown>) => void): void;
  ready(timeoutMs?: number): Promise<void>;
  metrics(): Promise<string>;
  kill(): Promise<void>;
}

/**
 * Starts `node [the image's node flags] [nodeArgs] test/bench/system.mjs <kind>` with `env` on top of
 * PATH and the image's runtime env only (`image: false`: neither, V8's and Node's own defaults); logs
 * go to `logFile`.
 */
export async function startSystem(kind: string, env: Record<string, string>, logFile: string, nodeArgs: string[] = [], image = true): Promise<SystemProcess> {
  const statusPort = await freePort();
  const child = spawn(process.execPath, [...(image ? IMAGE.nodeArgs : []), ...nodeArgs, SYSTEM, kind], {
    env: { PATH: process.env.PATH ?? '', ...(image ? IMAGE.env : {}), LOG_LEVEL: 'warn', STATUS_PORT: String(statusPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stderr!.pipe(log, { end: false });
  const listeners: ((obj: Record<string, unknown>) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    log.write(`${line}\n`);
    if (line.startsWith('{')) {
      try {
        const obj = JSON.parse(line) as Record<string, unknown>;
        for (const fn of listeners) fn(obj);
      } catch {
        // a log line that is not ours
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((c) => {
    exitCode = c;
    log.end();
  });
  const get = (path: string) => fetch(`http://127.0.0.1:${statusPort}${path}`);
  return {
    child,
    pid: child.pid!,
    statusPort,
    startedAt: Date.now(),
    exited,
    onLine: (fn) => void listeners.push(fn),
    async ready(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (exitCode !== undefined) throw new Error(`${kind} exited (${exitCode}) before it was ready; see ${logFile}`);
        try {
          const res = await get('/status');
          if (res.ok && ((await res.json()) as { ready: boolean }).ready) return;
        } catch {
          // not listening yet
        }
        await sleep(100);
      }
      throw new Error(`${kind} not ready after ${timeoutMs} ms; see ${logFile}`);
    },
    metrics: async () => (await get('/metrics')).text(),
    async kill() {
      if (exitCode !== undefined) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sum and count of a Prometheus histogram or counter family in /metrics text (all label sets). */
export function promSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}
