// Child processes of the benchmark and what /proc says about them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
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
  /** The main thread's time on a core and waiting in the run queue for one, in seconds (NaN where the kernel keeps no schedstat). */
  mainRunS: number;
  mainWaitS: number;
}

/**
 * `/proc/<pid>/schedstat` (the main thread's): nanoseconds on a CPU, nanoseconds runnable but
 * waiting for one, timeslices. The wait is what a busy machine costs a thread that is ready to run:
 * at "50 %" on 2 shared cores the scorer's main thread waited 265-285 ms a second for a core while
 * it ran 221-245 (docs/performance.md, "Four more settings").
 */
export function parseSchedstat(text: string): { runS: number; waitS: number } {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  return Number.isFinite(run) && Number.isFinite(wait) ? { runS: run! / 1e9, waitS: wait! / 1e9 } : { runS: NaN, waitS: NaN };
}

export function procSample(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    let sched = { runS: NaN, waitS: NaN };
    try {
      sched = parseSchedstat(readFileSync(`/proc/${pid}/schedstat`, 'utf8'));
    } catch {
      // A kernel without CONFIG_SCHED_INFO: the wait stays unknown.
    }
    return { cpuS, rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, mainRunS: sched.runS, mainWaitS: sched.waitS };
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

/** CPUs every system under test is started on (`taskset -c`), or null: wherever the kernel puts it. */
let systemCpus: string | null = null;

/**
 * Splits the machine's `total` CPUs into `cpus` (a comma-separated list of CPU numbers) and the rest.
 * Throws, naming `setting`, when the list is not CPUs of this machine or leaves none to the rest.
 */
export function splitCpus(cpus: string, total: number, setting: string): { mine: number[]; rest: number[] } {
  const parts = cpus.split(',').map((c) => c.trim());
  if (parts.some((c) => !/^\d+$/.test(c) || Number(c) >= total)) throw new Error(`${setting} must list CPU numbers from 0 to ${total - 1}, got "${cpus}"`);
  const mine = [...new Set(parts.map(Number))].sort((a, b) => a - b);
  const rest = Array.from({ length: total }, (_, i) => i).filter((i) => !mine.includes(i));
  if (rest.length === 0) throw new Error(`${setting} must leave at least one of the ${total} CPUs to the broker and the harness, got "${cpus}"`);
  return { mine, rest };
}

/**
 * Gives every system started from now on the CPUs `cpus` (splitCpus) and moves the processes
 * `others` (this harness, the broker), all their threads, to the remaining ones: a scorer on cores
 * of its own, as a pod on another node than the broker's would have them. Returns how many CPUs the
 * systems get.
 */
export function pinSystems(cpus: string, others: number[], setting: string): number {
  const { mine, rest } = splitCpus(cpus, availableParallelism(), setting);
  for (const pid of others) execFileSync('taskset', ['--all-tasks', '--pid', '--cpu-list', rest.join(','), String(pid)], { stdio: 'ignore' });
  systemCpus = mine.join(',');
  return mine.length;
}

/**
 * Starts `node [the image's node flags] [nodeArgs] test/bench/system.mjs <kind>` with `env` on top of
 * PATH and the image's runtime env only (`image: false`: neither, V8's and Node's own defaults); logs
 * go to `logFile`. On the CPUs of pinSystems, when it was called.
 */
export async function startSystem(kind: string, env: Record<string, string>, logFile: string, nodeArgs: string[] = [], image = true): Promise<SystemProcess> {
  const statusPort = await freePort();
  const args = [...(image ? IMAGE.nodeArgs : []), ...nodeArgs, SYSTEM, kind];
  // taskset execs node, so the child's pid is node's.
  const child = spawn(systemCpus ? 'taskset' : process.execPath, systemCpus ? ['--cpu-list', systemCpus, process.execPath, ...args] : args, {
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
