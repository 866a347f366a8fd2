/**
 * `make bench`: end-to-end throughput, latency, CPU and memory of the scorer against a real broker
 * and the real model, beside its bounds (model-only, passthrough, the machine's own GEMM peak) and
 * the alternatives a user could choose (each Kafka client, each output compression, each model,
 * one message at a time, the lexicon baselines).
 *
 *   KAFKA_BROKERS=127.0.0.1:39092 node --import tsx test/bench/bench.ts      (make bench starts the broker)
 *
 * Environment: docs/performance.md, "Running it". Progress goes to stderr; results to
 * BENCH_OUT/latest.json, BENCH_OUT/<YYYY-MM-DD>.json, BENCH_OUT/latest.md and PNG plots
 * (test/bench/plot.py, matplotlib).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { transportSettings } from '@sentiment-stream/kafka';
import { scorerSettings } from '@sentiment-stream/scorer';
import { countRecords, createKafka, createProducer, createTopics, produceAll, readTopic, withAdmin } from './lib/kafka.js';
import { modelSpecs, type ModelSpec } from './lib/models.js';
import { costTerms, matmulChainModel, matmulIntegerModel, readOnnxGraph, rowOps, type ModelCost } from './lib/onnx.js';
import { IMAGE, machineBusyS, pinSystems, procSample, promSum, sleep, startSystem, type ProcSample, type SystemProcess } from './lib/proc.js';
import { ratioFromCpu } from './lib/ratio.js';
import { DatasetsError, describe, loadPools, sample, type PoolItem } from './lib/sample.js';
import { attributeTail, readJvmPauses, spread, type Pause, type SecondStats } from './lib/tail.js';
import { summarizeAllocations, summarizeProfiles, type AllocationProfile } from './profile.js';
import { renderMarkdown, type LatencyResult, type MemoryStats, type Results, type SystemResult } from './report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const env = process.env;
const QUICK = env.QUICK === '1' || env.QUICK === 'true';
const num = (name: string, quick: number, full: number) => Number(env[name] ?? (QUICK ? quick : full));
const listOf = (v: string | undefined, dflt: readonly string[]) => (v ?? dflt.join(',')).split(',').map((s) => s.trim()).filter(Boolean);

/** The scorer's own defaults (the one place they live), so the rows name what a user gets. */
const DEFAULT_CLIENT = transportSettings.KAFKA_CLIENT.defaultText;
const DEFAULT_COMPRESSION = transportSettings.PRODUCER_COMPRESSION.defaultText;
const DEFAULT_BATCH = Number(scorerSettings.BATCH_MAX_SIZE.defaultText);
/** Issue 15's floor for scorer / model-only; the paired rounds give the pipeline's CPU budget at it. */
const RATIO_FLOOR = 0.92;

const cfg = {
  quick: QUICK,
  // QUICK: 20,000, not less: a capped drain needs several produce requests after the first one, and
  // with a backlog the first carries a whole fetch response (FETCH_MAX_BYTES, ~7,000 messages here).
  n: num('BENCH_N', 20_000, 200_000),
  seed: Number(env.BENCH_SEED ?? 20_261_128),
  tweetShare: Number(env.BENCH_TWEET_SHARE ?? 0.5),
  model: env.MODEL ?? 'sst2-bilstm',
  partitions: 6,
  /**
   * naive = BATCH_MAX_SIZE=1, drained for this many seconds after its first output (the whole
   * backlog would take minutes). Not a count: the transport coalesces the outputs of every batch
   * acknowledged while a produce is in flight, so the first produce alone can carry thousands.
   */
  naiveS: num('BENCH_NAIVE_S', 10, 30),
  /** model-only at batch 1: texts. */
  naiveCap: num('BENCH_NAIVE_CAP', 1_000, 5_000),
  /** Every capped drain also stops this long after its first output, whatever its count. */
  capSeconds: num('BENCH_CAP_S', 15, 60),
  /** A safety stop for full drains (N messages): far above what any system here needs. */
  fullDrainMaxS: num('BENCH_FULL_DRAIN_MAX_S', 300, 1_200),
  // QUICK: fewer points, to keep it near 10 minutes on 2 cores.
  sweepSizes: QUICK ? [1, 32, 256, 1024] : [1, 8, 32, 64, 128, 256, 512, 1024],
  /** [INFERENCE_SESSIONS, INTRA_OP_THREADS] pairs: the default (two sessions of one thread) and one session of two. */
  sweepEngines: (QUICK ? [[2, 1]] : [[2, 1], [1, 2]]) as [number, number][],
  /** Messages per sweep point for batch >= 32; below 32, seconds after the first output. */
  sweepCap: num('BENCH_SWEEP_CAP', 20_000, 20_000),
  sweepSmallS: num('BENCH_SWEEP_SMALL_S', 10, 20),
  rates: listOf(env.BENCH_RATES, ['0.25', '0.5', '0.75']).map(Number),
  openLoopS: num('BENCH_OPEN_LOOP_S', 10, 30),
  /** Latencies of messages sent in the first seconds of each rate are left out (JIT, connections, first fetches). */
  openLoopWarmupS: num('BENCH_OPEN_LOOP_WARMUP_S', 2, 5),
  /** Open-loop runs per client and rate (interleaved), for the spread of p99 from run to run. */
  openLoopRepeats: num('BENCH_OPEN_LOOP_REPEATS', 1, 3),
  /**
   * Seconds of one open-loop run, not recorded, before the measured ones (0: none). The first run
   * on a broker that had not yet served a stream of small requests had p99 5-10 times the later
   * runs' (2026-12-04: 493-1,289 ms against 62-136 at 25-50 %), while the broker took 0.67-0.74
   * cores against 0.26-0.42 at the same rate: its JIT at work on the same 2 cores.
   */
  openLoopWarmupRunS: num('BENCH_OPEN_LOOP_WARMUP_RUN_S', 10, 15),
  profileCap: num('BENCH_PROFILE_CAP', 20_000, 40_000),
  /** Paired rounds: scorer, model-only and naive back to back (order alternating), so each ratio compares runs under the same outside load. */
  pairedRounds: num('BENCH_PAIRED_ROUNDS', 2, 3),
  pairedCap: num('BENCH_PAIRED_CAP', 20_000, 30_000),
  /** Open loop: the scorer's maximum (msgs/s) to take fractions of, instead of this run's drain figure. */
  maxRate: env.BENCH_MAX_RATE ? Number(env.BENCH_MAX_RATE) : null,
  /** Extra settings, `K=V,K=V` (e.g. INTRA_OP_THREADS=2), for every run of the real scorer. */
  scorerEnv: Object.fromEntries((env.BENCH_SCORER_ENV ?? '').split(',').filter((kv) => kv.includes('=')).map((kv) => kv.split('=', 2) as [string, string])),
  /** BENCH_IMAGE_FLAGS=0: run the scorer without the image's node flags and runtime env (V8's and glibc's own sizing), to compare. */
  imageFlags: env.BENCH_IMAGE_FLAGS !== '0',
  /** Messages per memory variant (RSS keeps rising for a while as longer texts and bigger fetches show up). */
  memoryCap: num('BENCH_MEMORY_CAP', 20_000, 50_000),
  /** Interleaved rounds of the memory variants (a drain's peak RSS moves by tens of MB from run to run). */
  memoryRounds: num('BENCH_MEMORY_ROUNDS', 1, 3),
  /**
   * BENCH_SYSTEM_CPUS (e.g. `1`): every system under test on these CPUs, this harness and the broker
   * on the others, so the broker's and the load generator's work does not share the scorer's cores.
   * Unset: all share every core, as on the machine of the docs' runs.
   */
  systemCpus: env.BENCH_SYSTEM_CPUS || null,
  /** Kafka clients given rows (drain, open loop, compression); the scorer's default first. */
  clients: listOf(env.BENCH_CLIENTS, ['platformatic', 'kafkajs']).sort((a, b) => Number(b === DEFAULT_CLIENT) - Number(a === DEFAULT_CLIENT)),
  compressions: listOf(env.BENCH_COMPRESSIONS, ['none', 'gzip', 'snappy', 'lz4', 'zstd']),
  compressionCap: num('BENCH_COMPRESSION_CAP', 20_000, 30_000),
  /** BENCH_MODELS: names, folders or git:<rev>:<path>; default: every model and option of the bench model's dataset. */
  models: env.BENCH_MODELS ? listOf(env.BENCH_MODELS, []) : null,
  /** Messages per model row; a transformer drains for BENCH_CAP_S after its first output instead. */
  modelCap: num('BENCH_MODEL_CAP', 20_000, 30_000),
  /** The one-message-at-a-time transformer: messages drained. */
  perMessageCap: num('BENCH_PER_MESSAGE_CAP', 100, 1_000),
  /** Texts tokenized for the FLOP count (real lengths and the worker's padding). */
  limitTexts: num('BENCH_LIMIT_TEXTS', 2_000, 20_000),
  peakSeconds: num('BENCH_PEAK_S', 1, 4),
  // Full runs add paired rounds: scorer / model-only measured back to back, robust to a neighbour's load.
  phases: listOf(env.BENCH_PHASES, ['drain', 'limit', 'models', 'clients', 'compression', 'openloop', 'memory', ...(QUICK ? [] : ['paired']), 'sweep', 'profile']),
  datasetsDir: resolve(ROOT, env.DATA_DIR ?? env.DATASETS_DIR ?? '../shared/datasets'),
  // QUICK results go beside, not over, the full run's.
  outDir: resolve(ROOT, env.BENCH_OUT ?? (QUICK ? 'test/bench/results/quick' : 'test/bench/results')),
};

const brokers = (env.KAFKA_BROKERS ?? '').split(',').filter((b) => b !== '');
if (brokers.length === 0) {
  process.stderr.write('bench: KAFKA_BROKERS is not set (make bench starts a broker with deploy/kafka/with-broker.sh)\n');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
const t0 = Date.now();
const loadAtStart = readFileSync('/proc/loadavg', 'utf8').trim();
const RUN = `${new Date(t0).toISOString().slice(0, 19).replace(/[-:T]/g, '')}-${randomBytes(2).toString('hex')}`;
// Logs, CPU profiles and the sampled texts: always under test/bench/results/tmp/ (ignored by git).
const tmpDir = join(ROOT, 'test/bench/results/tmp', RUN);
mkdirSync(tmpDir, { recursive: true });

function say(phase: string, msg: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench +${s}s] ${phase.padEnd(11)} ${msg}\n`);
}
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

const kafka = createKafka(brokers);
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

/** The broker deploy/kafka started for this port, if it is local: its CPU, GC log and data dir. */
const brokerPort = /:(\d+)$/.exec(brokers[0]!)?.[1] ?? '';
const brokerRunDir = join(ROOT, '.cache/kafka/run', brokerPort);
const brokerPid = (() => {
  try {
    return Number(readFileSync(join(brokerRunDir, 'kafka.pid'), 'utf8').trim()) || null;
  } catch {
    return null;
  }
})();
const brokerDataDir = (() => {
  try {
    return /BROKER_DATA_DIR=(.*)/.exec(readFileSync(join(brokerRunDir, 'broker.env'), 'utf8'))?.[1]?.trim() ?? null;
  } catch {
    return null;
  }
})();
/** Cores the systems under test run on: the GEMM peak uses as many threads. */
const systemCores = (() => {
  if (!cfg.systemCpus) return availableParallelism();
  try {
    return pinSystems(cfg.systemCpus, [process.pid, ...(brokerPid ? [brokerPid] : [])], 'BENCH_SYSTEM_CPUS');
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
})();
/** make bench starts the broker with -Xlog:gc:file=<run dir>/gc.log (BENCH_BROKER_GC_LOG elsewhere). */
const brokerGcLog = env.BENCH_BROKER_GC_LOG ?? join(brokerRunDir, 'gc.log');

/** Bytes the broker holds for a topic: the sizes of its partitions' log segments. */
function topicBytes(topic: string): number {
  if (!brokerDataDir) return NaN;
  let bytes = 0;
  for (let p = 0; p < cfg.partitions; p++) {
    const dir = join(brokerDataDir, `${topic}-${p}`);
    if (!existsSync(dir)) return NaN;
    for (const f of readdirSync(dir)) if (f.endsWith('.log')) bytes += statSync(join(dir, f)).size;
  }
  return bytes;
}

/** CPU seconds so far: the system under test, the broker, this harness, the whole machine. */
interface Snapshot {
  at: number;
  count: number;
  sys: ProcSample;
  brokerS: number;
  harnessS: number;
  machineS: number;
}
function snapshot(sys: ProcSample, count: number): Snapshot {
  const h = process.cpuUsage();
  return { at: Date.now(), count, sys, brokerS: brokerPid ? (procSample(brokerPid)?.cpuS ?? 0) : 0, harnessS: (h.user + h.system) / 1e6, machineS: machineBusyS() };
}
/** Per 1,000 messages between two snapshots, and how many cores everything else kept busy meanwhile. */
function attribute(a: Snapshot, b: Snapshot, messages: number) {
  const wall = (b.at - a.at) / 1000;
  // Too short a window between two /proc samples (10 ms ticks) says nothing.
  if (wall < 0.5 || messages <= 0) return { cpu_s_per_1k: NaN, broker_cpu_s_per_1k: NaN, harness_cpu_s_per_1k: NaN, other_processes_cores: NaN, main_run_ms_per_s: NaN, main_wait_ms_per_s: NaN };
  const sysS = b.sys.cpuS - a.sys.cpuS;
  const brokerS = b.brokerS - a.brokerS;
  const harnessS = b.harnessS - a.harnessS;
  const otherS = b.machineS - a.machineS - sysS - brokerS - harnessS;
  return {
    cpu_s_per_1k: (sysS / messages) * 1000,
    broker_cpu_s_per_1k: brokerPid ? (brokerS / messages) * 1000 : NaN,
    harness_cpu_s_per_1k: (harnessS / messages) * 1000,
    other_processes_cores: Math.max(0, otherS / wall),
    // The system's main thread (Kafka, decoding, publishing): on a core, and ready but waiting for one.
    main_run_ms_per_s: ((b.sys.mainRunS - a.sys.mainRunS) * 1000) / wall,
    main_wait_ms_per_s: ((b.sys.mainWaitS - a.sys.mainWaitS) * 1000) / wall,
  };
}

say('setup', `run ${RUN}, ${cfg.quick ? 'QUICK, ' : ''}N=${fmt(cfg.n)}, model ${cfg.model}, brokers ${brokers.join(',')}, phases ${cfg.phases.join(',')}; load average ${loadAtStart}`);

// --- load ------------------------------------------------------------------------------------
let pools: ReturnType<typeof loadPools>;
try {
  pools = loadPools(cfg.datasetsDir);
} catch (err) {
  if (!(err instanceof DatasetsError)) throw err;
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(2);
}
const items = sample(pools, cfg.n, cfg.seed, cfg.tweetShare);
const textsFile = join(tmpDir, 'texts.json');
writeFileSync(textsFile, JSON.stringify(items.map((i) => i.text)));
const models = modelSpecs(ROOT, cfg.model, cfg.models, tmpDir);
const mainModel = models[0]!;
say('setup', `sample: ${JSON.stringify(describe(items))}`);
say('setup', `models: ${models.map((m) => `${m.label} (${m.kind}, ${m.source})`).join('; ')}`);

const backlog = `bench.${RUN}.backlog`;
await withAdmin(kafka, (admin) => createTopics(admin, [backlog], cfg.partitions));
{
  const producer = createProducer(kafka);
  await producer.connect();
  let last = 0;
  const start = Date.now();
  await produceAll(
    producer,
    backlog,
    cfg.n,
    (i) => ({ key: String(i), value: JSON.stringify({ id: String(i), text: items[i]!.text }) }),
    (done) => {
      if (Date.now() - last > 2_000 || done === cfg.n) {
        last = Date.now();
        say('load', `${fmt(done)} / ${fmt(cfg.n)} messages into ${backlog} (${fmt(done / ((Date.now() - start) / 1000))}/s)`);
      }
    },
  );
  await producer.disconnect();
}
const backlogCount = await withAdmin(kafka, (admin) => countRecords(admin, backlog));
if (backlogCount !== cfg.n) throw new Error(`backlog has ${backlogCount} records, expected ${cfg.n}`);

// --- statistics lines of a system (system.mjs prints them every second and on SIGUSR2) ---------
interface StatsLine {
  peak: Omit<MemoryStats, 'hwm_mb'> | null;
  hwm_mb: number;
  gc: { count: number; total_ms: number; max_ms: number; over_10ms: number; by_kind: Record<string, number> };
  loop: { max_ms: number };
  timeline: SecondStats[];
  pauses: Pause[];
}
function watchStats(sys: SystemProcess) {
  let latest: StatsLine | null = null;
  const timeline: SecondStats[] = [];
  const pauses: Pause[] = [];
  let waiter: (() => void) | null = null;
  sys.onLine((o) => {
    if (!o.stats) return;
    latest = o.stats as StatsLine;
    timeline.push(...latest.timeline);
    pauses.push(...latest.pauses);
    waiter?.();
  });
  return {
    timeline,
    pauses,
    /** Asks for a fresh line and waits for it (up to 2 s). */
    async now(): Promise<StatsLine | null> {
      const got = new Promise<void>((r) => (waiter = r));
      sys.child.kill('SIGUSR2');
      await Promise.race([got, sleep(2_000)]);
      waiter = null;
      return latest;
    },
  };
}

// --- one system draining the backlog ---------------------------------------------------------
/** What a drain measures (report.ts's SystemResult), plus what the harness keeps for later phases. */
interface DrainResult extends SystemResult {
  labels?: Map<string, string>;
  values?: Buffer[];
  /** The drain window on the child's monotonic clock (µs), for cutting a CPU profile to it. */
  window?: { fromUs: number; toUs: number; messages: number };
}

interface DrainOptions {
  kind: 'scorer' | 'passthrough' | 'afinn' | 'vader' | 'per-message';
  env?: Record<string, string>;
  /** Stop once this many outputs are on the broker (N: the whole backlog). */
  target: number;
  keepLabels: boolean;
  nodeArgs?: string[];
  /** false: without the image's node flags and runtime env (default: cfg.imageFlags). */
  image?: boolean;
  /** Stop with SIGTERM and wait (a CPU profile is written at exit) instead of SIGKILL. */
  graceful?: boolean;
  /** Count the bytes the broker holds for the outputs. */
  bytes?: boolean;
  /** Stop this long after the first output (default: BENCH_CAP_S for a capped count, else the safety stop). */
  maxS?: number;
  /** Keep the values of the outputs (events), for the codec measurement. */
  keepValues?: boolean;
}

async function drain(name: string, phase: string, opts: DrainOptions): Promise<DrainResult> {
  const out = `bench.${RUN}.${name}.out`;
  const dlq = `bench.${RUN}.${name}.dlq`;
  await withAdmin(kafka, (admin) => createTopics(admin, [out, dlq], cfg.partitions, true));
  const sys = await startSystem(
    opts.kind,
    {
      KAFKA_BROKERS: brokers.join(','),
      INPUT_TOPICS: backlog,
      OUTPUT_TOPIC: out,
      DLQ_TOPIC: dlq,
      GROUP_ID: `bench.${RUN}.${name}`,
      MODEL: cfg.model,
      ...(opts.kind === 'scorer' ? cfg.scorerEnv : {}),
      ...opts.env,
    },
    join(tmpDir, `${name}.log`),
    opts.nodeArgs,
    opts.image ?? cfg.imageFlags,
  );
  const stats = watchStats(sys);
  let clock: { hr_us: number; wall_ms: number } | null = null;
  sys.onLine((o) => {
    if (o.clock) clock = o.clock as { hr_us: number; wall_ms: number };
  });
  await sys.ready();
  const startup = (Date.now() - sys.startedAt) / 1000;
  say(phase, `${name}: ready after ${startup.toFixed(1)} s (pid ${sys.pid}); draining to ${fmt(opts.target)} outputs`);

  const admin = kafka.admin();
  await admin.connect();
  let first: Snapshot | null = null;
  let last: Snapshot | null = null;
  let capped: string | null = null;
  let lastSay = Date.now();
  let sayCount = 0;
  // The scorer's own counters twice a second: texts scored (its progress, finer than the output
  // produce requests) and records in flight (what the transport holds: MAX_INFLIGHT_MESSAGES + one fetch).
  const scored: { at: number; texts: number }[] = [];
  let inflightMax = 0;
  let lastScrape = 0;
  const scrape = async () => {
    const text = await sys.metrics().catch(() => '');
    if (!text) return;
    scored.push({ at: Date.now(), texts: promSum(text, 'sentiment_batch_size_sum') });
    inflightMax = Math.max(inflightMax, promSum(text, 'sentiment_inflight_messages'));
  };
  try {
    for (;;) {
      if (Date.now() - lastScrape >= 500) {
        lastScrape = Date.now();
        await scrape();
      }
      const count = await countRecords(admin, out);
      const cpu = procSample(sys.pid);
      const now = Date.now();
      if (!cpu) throw new Error(`${name} exited while draining; see ${join(tmpDir, `${name}.log`)}`);
      const point = snapshot(cpu, count);
      if (count > 0 && !first) first = point;
      if (first) last = point;
      if (now - lastSay >= 2_000) {
        say(phase, `${name}: ${fmt(count)} / ${fmt(opts.target)} out, ${fmt(((count - sayCount) * 1000) / (now - lastSay))} msg/s now, RSS ${cpu.rssMb.toFixed(0)} MB`);
        lastSay = now;
        sayCount = count;
      }
      if (count >= opts.target) break;
      const maxS = opts.maxS ?? (opts.target < cfg.n ? cfg.capSeconds : cfg.fullDrainMaxS);
      if (first && now - first.at > maxS * 1000) {
        capped = `time (${maxS} s after the first output)`;
        break;
      }
      if (!first && now - sys.startedAt > 120_000) throw new Error(`${name}: no output 120 s after start`);
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
  if (opts.target < cfg.n && !capped) capped = `count (${fmt(opts.target)} messages)`;
  if (capped && opts.maxS !== undefined && capped.startsWith('time')) capped = `time (${opts.maxS} s after the first output)`;
  await scrape();
  const metrics = await sys.metrics().catch(() => '');
  const st = await stats.now();
  const final = procSample(sys.pid)!;
  if (opts.graceful) {
    sys.child.kill('SIGTERM');
    await Promise.race([sys.exited, sleep(30_000)]);
  }
  await sys.kill();

  const [outputs, deadLetters] = await withAdmin(kafka, async (a) => [await countRecords(a, out), await countRecords(a, dlq)]);
  const records = await readTopic(kafka, out, outputs, opts.keepLabels || opts.keepValues === true, (d) => say(phase, `${name}: reading outputs ${fmt(d)} / ${fmt(outputs)}`));
  let tFirst = Infinity;
  let tLast = 0;
  for (const r of records) {
    if (r.ts < tFirst) tFirst = r.ts;
    if (r.ts > tLast) tLast = r.ts;
  }
  const after = records.filter((r) => r.ts > tFirst).length;
  const windowS = (tLast - tFirst) / 1000;
  const dMsgs = last!.count - first!.count;
  const result: DrainResult = {
    msgs_per_s: windowS > 0 ? after / windowS : NaN,
    outputs,
    window_s: windowS,
    capped,
    ...attribute(first!, last!, dMsgs),
    rss_mb: Math.max(final.hwmMb, last!.sys.hwmMb),
    startup_s: startup,
    dead_letters: deadLetters,
  };
  if (st?.peak) result.memory = { ...st.peak, hwm_mb: st.hwm_mb };
  if (st) {
    result.gc = { count: st.gc.count, total_ms: st.gc.total_ms, max_ms: st.gc.max_ms, over_10ms: st.gc.over_10ms, ms_per_1k: (st.gc.total_ms / Math.max(1, outputs)) * 1000 };
  }
  const firstScored = scored.find((x) => x.texts > 0);
  // Scoring ended at the first poll that saw the final count (the polls after it only wait for outputs).
  const lastScored = scored.find((x) => x.texts === scored[scored.length - 1]!.texts);
  if (firstScored && lastScored && lastScored.at - firstScored.at >= 2_000) result.scored_per_s = ((lastScored.texts - firstScored.texts) * 1000) / (lastScored.at - firstScored.at);
  if (inflightMax > 0) result.inflight_max = inflightMax;
  if (opts.bytes) result.broker_bytes_per_msg = topicBytes(out) / Math.max(1, outputs);
  if (metrics) {
    const batches = promSum(metrics, 'sentiment_batch_size_count');
    const texts = promSum(metrics, 'sentiment_batch_size_sum');
    if (batches > 0) {
      result.mean_batch = texts / batches;
      result.tokenize_ms_per_1k = (promSum(metrics, 'sentiment_tokenize_duration_seconds_sum') * 1e6) / texts;
      result.inference_ms_per_1k = (promSum(metrics, 'sentiment_inference_duration_seconds_sum') * 1e6) / texts;
    }
  }
  if (opts.keepValues) result.values = records.map((r) => r.value!).filter(Boolean);
  const c = clock as { hr_us: number; wall_ms: number } | null;
  if (c) result.window = { fromUs: c.hr_us + (first!.at - c.wall_ms) * 1000, toUs: c.hr_us + (last!.at - c.wall_ms) * 1000, messages: dMsgs };
  if (opts.keepLabels) {
    const labels = new Map<string, string>();
    let dup = 0;
    for (const r of records) {
      const ev = JSON.parse(r.value!.toString()) as { id: string; label: string };
      if (labels.has(ev.id)) dup++;
      else labels.set(ev.id, ev.label);
    }
    result.duplicates = dup;
    result.labels = labels;
    Object.assign(result, accuracy(labels, opts.env?.MODEL ? models.find((m) => m.dir === opts.env!.MODEL)?.labels : undefined));
  }
  say(
    phase,
    `${name}: ${fmt(result.msgs_per_s)} msg/s over ${windowS.toFixed(1)} s (${fmt(outputs)} outputs${capped ? `, capped by ${capped}` : ''}), ` +
      `${result.cpu_s_per_1k.toFixed(3)} CPU s/1k, peak RSS ${result.rss_mb.toFixed(0)} MB` +
      (result.mean_batch ? `, mean batch ${result.mean_batch.toFixed(1)}` : '') +
      (result.scored_per_s ? `, ${fmt(result.scored_per_s)} texts/s scored` : '') +
      (result.inflight_max ? `, up to ${fmt(result.inflight_max)} records in flight` : '') +
      (result.broker_bytes_per_msg !== undefined ? `, ${result.broker_bytes_per_msg.toFixed(1)} B/msg on the broker` : '') +
      (result.accuracy !== undefined ? `, held-out accuracy ${(100 * result.accuracy).toFixed(1)}%` : ''),
  );
  return result;
}

/** Accuracy over sampled items whose gold label is one of the model's labels: held-out (dev) ones, and all. */
function accuracy(labels: Map<string, string>, modelLabels = mainModel.labels) {
  let heldN = 0;
  let heldOk = 0;
  let allN = 0;
  let allOk = 0;
  for (const [id, label] of labels) {
    const item: PoolItem | undefined = items[Number(id)];
    if (!item || !modelLabels.includes(item.gold)) continue;
    const ok = item.gold === label ? 1 : 0;
    allN++;
    allOk += ok;
    if (item.split === 'dev') {
      heldN++;
      heldOk += ok;
    }
  }
  return { accuracy: heldOk / Math.max(1, heldN), accuracy_n: heldN, accuracy_all_labeled: allOk / Math.max(1, allN), accuracy_all_labeled_n: allN };
}

// --- model-only: tokenizer + inference, no Kafka ---------------------------------------------
/** The settings of `env` that choose how ONNX Runtime runs the model (sessions and their threads). */
const engineOf = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([k]) => k === 'INFERENCE_SESSIONS' || k === 'INTRA_OP_THREADS'));

async function modelOnly(batch: number, limit = cfg.n, model = cfg.model, maxS = 0): Promise<DrainResult> {
  const index = models.findIndex((m) => m.dir === model);
  const tag = `model-only-${model === cfg.model ? '' : `${index}-${models[index]?.name ?? 'x'}-`}b${batch}`;
  const sys: SystemProcess = await startSystem(
    'model-only',
    // The scorer's engine, when BENCH_SCORER_ENV sets it: model-only bounds the scorer as it runs.
    { ...engineOf(cfg.scorerEnv), BENCH_TEXTS_FILE: textsFile, BENCH_TEXTS_LIMIT: String(limit), BATCH_MAX_SIZE: String(batch), MODEL: model, BENCH_MAX_S: String(maxS) },
    join(tmpDir, `${tag}.log`),
  );
  let done = 0;
  type ModelOnlyResult = { firstAt: number; lastAt: number; firstBatch: number; outputs: number; tokenizeMs: number; inferenceMs: number; batches: number };
  const got: { result?: ModelOnlyResult } = {};
  let readyAt = 0;
  sys.onLine((o) => {
    if (o.ready) readyAt = Date.now();
    if (typeof o.done === 'number') done = o.done;
    if (o.result) got.result = o.result as ModelOnlyResult;
  });
  let first: Snapshot | null = null;
  let lastSay = Date.now();
  let sayCount = 0;
  let exitCode: number | null | undefined;
  void sys.exited.then((c) => (exitCode = c));
  while (!got.result) {
    if (exitCode !== undefined) throw new Error(`model-only exited (${exitCode}); see ${join(tmpDir, `${tag}.log`)}`);
    const cpu = procSample(sys.pid);
    if (cpu && done > 0 && !first) first = snapshot(cpu, done);
    if (Date.now() - lastSay >= 2_000) {
      say('model-only', `${tag}: ${fmt(done)} / ${fmt(limit)} texts, ${fmt(((done - sayCount) * 1000) / (Date.now() - lastSay))} texts/s now`);
      lastSay = Date.now();
      sayCount = done;
    }
    await sleep(100);
  }
  const r = got.result;
  const final = procSample(sys.pid)!;
  const end = snapshot(final, r.outputs);
  await sys.kill();
  first ??= end;
  const windowS = (r.lastAt - r.firstAt) / 1000;
  const out: DrainResult = {
    msgs_per_s: (r.outputs - r.firstBatch) / windowS,
    outputs: r.outputs,
    window_s: windowS,
    capped: r.outputs < limit ? `time (${maxS} s)` : null,
    ...attribute(first, end, r.outputs - first.count),
    rss_mb: final.hwmMb,
    startup_s: readyAt ? (readyAt - sys.startedAt) / 1000 : NaN,
    dead_letters: 0,
    mean_batch: r.outputs / r.batches,
    tokenize_ms_per_1k: (r.tokenizeMs * 1000) / r.outputs,
    inference_ms_per_1k: (r.inferenceMs * 1000) / r.outputs,
  };
  say('model-only', `${tag}: ${fmt(out.msgs_per_s)} texts/s over ${windowS.toFixed(1)} s, ${out.cpu_s_per_1k.toFixed(3)} CPU s/1k, peak RSS ${out.rss_mb.toFixed(0)} MB`);
  return out;
}

// --- open loop: a fixed offered rate into a fresh topic ---------------------------------------

const pct = (sorted: number[], p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);

async function openLoop(fraction: number, maxRate: number, client: string, repeat: number, seconds = cfg.openLoopS): Promise<LatencyResult> {
  const rate = Math.max(1, Math.round(fraction * maxRate));
  const tag = `ol-${client}-${Math.round(fraction * 100)}-r${repeat}`;
  const input = `bench.${RUN}.${tag}.in`;
  const out = `bench.${RUN}.${tag}.out`;
  const dlq = `bench.${RUN}.${tag}.dlq`;
  await withAdmin(kafka, async (admin) => {
    await createTopics(admin, [input], cfg.partitions);
    await createTopics(admin, [out, dlq], cfg.partitions, true);
  });
  const sys = await startSystem(
    'scorer',
    { KAFKA_BROKERS: brokers.join(','), INPUT_TOPICS: input, OUTPUT_TOPIC: out, DLQ_TOPIC: dlq, GROUP_ID: `bench.${RUN}.${tag}`, MODEL: cfg.model, ...cfg.scorerEnv, KAFKA_CLIENT: client },
    join(tmpDir, `${tag}.log`),
    [],
    cfg.imageFlags,
  );
  const stats = watchStats(sys);
  await sys.ready();

  // The downstream consumer: latency = arrival here - the input record's timestamp.
  const sentAts: number[] = [];
  const arrivals: number[] = [];
  const brokerLat: number[] = [];
  let received = 0;
  let measureFrom = Infinity;
  const consumer = kafka.consumer({ groupId: `bench.${RUN}.${tag}.reader`, maxWaitTimeInMs: 50, maxBytes: 8 << 20 });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topics: [out], fromBeginning: true });
  await consumer.run({
    autoCommit: true,
    partitionsConsumedConcurrently: cfg.partitions,
    eachBatch: async ({ batch }) => {
      const arrived = Date.now();
      for (const m of batch.messages) {
        received++;
        const ev = JSON.parse(m.value!.toString()) as { source: { timestamp: string } };
        const sentAt = Date.parse(ev.source.timestamp);
        if (sentAt < measureFrom) continue;
        sentAts.push(sentAt);
        arrivals.push(arrived);
        brokerLat.push(Number(m.timestamp) - sentAt);
      }
    },
  });
  await joined;

  const producer = createProducer(kafka);
  await producer.connect();
  loopDelay.reset();
  const start = Date.now();
  measureFrom = start + cfg.openLoopWarmupS * 1000;
  const end = start + seconds * 1000;
  const total = Math.round(rate * seconds);
  let sent = 0;
  let failed = 0;
  const pending = new Set<Promise<unknown>>();
  const snap0 = snapshot(procSample(sys.pid)!, 0);
  let lastSay = start;
  say('openloop', `${tag}: offering ${fmt(rate)} msg/s (${Math.round(fraction * 100)}% of ${fmt(maxRate)}) for ${seconds} s to KAFKA_CLIENT=${client}`);
  while (sent < total) {
    const now = Date.now();
    const due = Math.min(total, Math.floor(((now - start) / 1000) * rate)) - sent;
    if (due > 0) {
      const messages = [];
      for (let k = 0; k < due; k++) {
        const i = (sent + k) % items.length;
        messages.push({ key: `${tag}-${sent + k}`, value: JSON.stringify({ id: `${tag}-${sent + k}`, text: items[i]!.text }), timestamp: String(now) });
      }
      sent += due;
      const p = producer.send({ topic: input, messages, acks: 1 }).catch(() => void (failed += messages.length));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    if (now - lastSay >= 5_000) {
      const s = sentAts.map((x, i) => arrivals[i]! - x).sort((a, b) => a - b);
      say('openloop', `${tag}: sent ${fmt(sent)}, received ${fmt(received)}, p50 ${pct(s, 50)} ms, p99 ${pct(s, 99)} ms so far`);
      lastSay = now;
    }
    await sleep(Math.max(1, Math.min(5, end - Date.now())));
  }
  await Promise.all(pending);
  const sendDone = Date.now();
  const waitUntil = sendDone + 30_000;
  while (received < sent - failed && Date.now() < waitUntil) await sleep(20);
  const cpu1 = procSample(sys.pid)!;
  const att = attribute(snap0, snapshot(cpu1, received), received);
  const metrics = await sys.metrics().catch(() => '');
  // The scorer's last statistics line: its timeline up to now.
  await stats.now();
  await consumer.disconnect();
  await producer.disconnect();
  await sys.kill();

  const lat = sentAts.map((x, i) => arrivals[i]! - x);
  const s = [...lat].sort((a, b) => a - b);
  const b = brokerLat.sort((x, y) => x - y);
  const batches = promSum(metrics, 'sentiment_batch_size_count');
  const from = measureFrom;
  // Not Math.max(...arrivals): a 30 s run at 5,000 msgs/s is past what a spread call takes.
  const to = arrivals.length ? arrivals.reduce((m, x) => (x > m ? x : m), -Infinity) : Date.now();
  const brokerPauses = readJvmPauses(brokerGcLog, from, to);
  const timeline = stats.timeline.filter((x) => x.t * 1000 >= from - 1000 && x.t * 1000 <= to);
  const r: LatencyResult = {
    client,
    repeat,
    rate_fraction: fraction,
    offered_msgs_per_s: rate,
    sent,
    received,
    measured: s.length,
    achieved_msgs_per_s: received / ((sendDone - start) / 1000),
    p50_ms: pct(s, 50),
    p95_ms: pct(s, 95),
    p99_ms: pct(s, 99),
    p999_ms: pct(s, 99.9),
    max_ms: s[s.length - 1] ?? NaN,
    broker_p50_ms: pct(b, 50),
    broker_p99_ms: pct(b, 99),
    rss_mb: cpu1.hwmMb,
    cpu_s_per_1k: att.cpu_s_per_1k,
    broker_cpu_s_per_1k: att.broker_cpu_s_per_1k,
    harness_cpu_s_per_1k: att.harness_cpu_s_per_1k,
    scorer_main_run_ms_per_s: att.main_run_ms_per_s,
    scorer_main_wait_ms_per_s: att.main_wait_ms_per_s,
    other_processes_cores: att.other_processes_cores,
    ...(batches > 0
      ? {
          mean_batch: promSum(metrics, 'sentiment_batch_size_sum') / batches,
          batch_tokenize_ms: (promSum(metrics, 'sentiment_tokenize_duration_seconds_sum') / batches) * 1000,
          batch_inference_ms: (promSum(metrics, 'sentiment_inference_duration_seconds_sum') / batches) * 1000,
        }
      : {}),
    harness_loop_delay_p99_ms: loopDelay.percentile(99) / 1e6,
    scorer_loop_max_ms: timeline.reduce((m, x) => Math.max(m, x.loop_max_ms), 0),
    scorer_gc_ms_per_s: timeline.length ? timeline.reduce((t, x) => t + x.gc_ms, 0) / timeline.length : NaN,
    tail: attributeTail(sentAts, arrivals, stats.pauses.filter((p) => p.at + p.ms >= from && p.at <= to), brokerPauses, timeline),
    load_end: loadavg()[0]!,
    quantiles_ms: Array.from({ length: 101 }, (_, k) => pct(s, k)),
  };
  if (failed > 0) say('openloop', `${tag}: ${fmt(failed)} sends failed`);
  say(
    'openloop',
    `${tag}: ${fmt(r.received)} / ${fmt(sent)} received; latency p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms (mean batch ${r.mean_batch?.toFixed(1) ?? '?'}); ` +
      `slow messages through a broker GC pause ${share(r.tail.broker_gc?.slow)} (all ${share(r.tail.broker_gc?.all)}), a scorer GC pause ${share(r.tail.scorer_gc.slow)} (all ${share(r.tail.scorer_gc.all)})`,
  );
  return r;
}
const share = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${Math.round(100 * x)}%`);

// --- distance to the limit: FLOPs per text and the machine's own GEMM peak -------------------------

async function modelCost(spec: ModelSpec, texts: string[]): Promise<ModelCost> {
  const terms = costTerms(readOnnxGraph(readFileSync(join(spec.dir, 'model.onnx'))));
  const { loadTokenizer } = (await import('../../libs/model/dist/tokenizer.js')) as typeof import('../../libs/model/src/tokenizer.js');
  const config = JSON.parse(readFileSync(join(spec.dir, 'config.json'), 'utf8')) as { max_length: number };
  const tok = await loadTokenizer(spec.dir, config.max_length, 20_000);
  const lengths = tok.encode(texts).map((r) => Math.max(1, r.length));
  const { subBatches } = (await import('../../libs/model/dist/encode.js')) as typeof import('../../libs/model/src/encode.js');
  let useful = 0;
  let padded = 0;
  let usefulTok = 0;
  let paddedTok = 0;
  let runs = 0;
  for (let i = 0; i < lengths.length; i += DEFAULT_BATCH) {
    const batch = lengths.slice(i, i + DEFAULT_BATCH);
    for (const run of subBatches(batch)) {
      const longest = Math.max(...run.map((r) => batch[r]!));
      runs++;
      for (const r of run) {
        useful += rowOps(terms, batch[r]!);
        padded += rowOps(terms, longest);
        usefulTok += batch[r]!;
        paddedTok += longest;
      }
    }
  }
  const n = lengths.length;
  const rec = lengths.reduce((s, l) => s + rowOps(terms, l, (t) => t.recurrent === true), 0);
  const lstmTerm = terms.find((t) => t.recurrent);
  const lstm = lstmTerm ? /\((\d+) dir x 4\*(\d+) x (\d+)\)/.exec(lstmTerm.what) : null;
  const proj = terms.find((t) => t.what.startsWith('LSTM input projection'));
  const projIn = proj ? Number(/x (\d+)\)$/.exec(proj.what)?.[1]) : 0;
  return {
    terms,
    tokens_mean: usefulTok / n,
    padded_tokens_mean: paddedTok / n,
    rows_per_run_mean: n / runs,
    useful_ops_per_text: useful / n,
    padded_ops_per_text: padded / n,
    recurrent_share: rec / useful,
    int8: terms.some((t) => t.int8 && t.perToken > 0),
    ...(lstm ? { lstm: { dirs: Number(lstm[1]), hidden: Number(lstm[2]), input: projIn } } : {}),
  };
}

interface PeakCase {
  name: string;
  file: string;
  ops: number;
  seconds: number;
  feeds: Record<string, { type: 'float32' | 'uint8' | 'int8'; dims: number[]; fill: number }>;
}
interface PeakResult {
  name: string;
  ops: number;
  best_gops: number;
  median_gops: number;
  us_per_run: number;
  cpu_cores: number;
}

/** GEMM rates through ONNX Runtime, in a child with the inference worker's session options and ORT's default threads (every core: the machine model-only's sessions share). */
async function measurePeak(cost: ModelCost): Promise<PeakResult[]> {
  const dir = join(tmpDir, 'peak');
  mkdirSync(dir, { recursive: true });
  const cases: PeakCase[] = [];
  const chain = (name: string, m: number, k: number, n: number, steps: number) => {
    const file = join(dir, `${name.replace(/\W+/g, '_')}.onnx`);
    writeFileSync(file, matmulChainModel(m, k, n, steps));
    cases.push({
      name,
      file,
      ops: 2 * m * k * n * steps,
      seconds: cfg.peakSeconds,
      feeds: { X: { type: 'float32', dims: [m, k], fill: 1 }, W1: { type: 'float32', dims: [k, n], fill: 1 / k }, W2: { type: 'float32', dims: [n, k], fill: 1 / n } },
    });
  };
  chain('fp32 GEMM 1024 x 1024 x 1024 (a large MatMul)', 1024, 1024, 1024, 4);
  chain('fp32 GEMM 256 x 256 x 256', 256, 256, 256, 64);
  if (cost.lstm) {
    const { hidden: h, input } = cost.lstm;
    const runRows = Math.round(cost.rows_per_run_mean);
    chain(`LSTM input projection: [${runRows} rows x ${Math.round(cost.padded_tokens_mean)} steps, ${input}] x [${input}, ${4 * h}]`, runRows * Math.round(cost.padded_tokens_mean), input, 4 * h, 8);
    chain(`LSTM recurrence step: [${runRows}, ${h}] x [${h}, ${4 * h}]`, runRows, h, 4 * h, 64);
    chain(`LSTM recurrence step at batch 1: [1, ${h}] x [${h}, ${4 * h}]`, 1, h, 4 * h, 64);
  }
  {
    const file = join(dir, 'int8.onnx');
    writeFileSync(file, matmulIntegerModel(1024, 1024, 1024));
    cases.push({ name: 'int8 MatMulInteger 1024 x 1024 x 1024', file, ops: 2 * 1024 ** 3, seconds: cfg.peakSeconds, feeds: { A: { type: 'uint8', dims: [1024, 1024], fill: 1 }, B: { type: 'int8', dims: [1024, 1024], fill: 1 } } });
  }
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify({ cases }));
  // One intra-op thread per core, said outright: ORT 1.30's own default ran these GEMMs on one
  // thread of 2 here (1.0 core busy, 177 G/s against 332 on two), which would hold model-only's
  // two sessions to half the machine's peak.
  const sys = await startSystem('peak', { BENCH_PEAK_SPEC: specFile, INTRA_OP_THREADS: String(systemCores) }, join(tmpDir, 'peak.log'));
  let result: PeakResult[] | null = null;
  sys.onLine((o) => {
    if (o.result) result = o.result as PeakResult[];
  });
  const code = await sys.exited;
  if (!result) throw new Error(`peak measurement failed (exit ${code}); see ${join(tmpDir, 'peak.log')}`);
  return result;
}

// --- codecs: CPU per event of each compression, on the scorer's real events --------------------------

/**
 * Compresses and decompresses the events a drain published, in chunks of one record batch's worth
 * (a flush of ~900 KB spread over 6 partitions: ~150 KB), with the codec implementations the clients
 * use (@platformatic/kafka's: zlib for gzip and zstd, WebAssembly for snappy and lz4; kafkajs's own
 * gzip is the same zlib). CPU time of this thread (process.cpuUsage; nothing else runs in the
 * harness meanwhile), best of 3 rounds of >= 0.3 s, per event.
 */
async function codecCost(values: Buffer[]): Promise<NonNullable<Results['codecs']>> {
  const { compressionsAlgorithms } = await import('@platformatic/kafka');
  const chunks: { buf: Buffer; events: number }[] = [];
  for (let i = 0; i < values.length; ) {
    const part: Buffer[] = [];
    let bytes = 0;
    while (i < values.length && bytes < 150_000) {
      part.push(values[i]!);
      bytes += values[i]!.length;
      i++;
    }
    chunks.push({ buf: Buffer.concat(part), events: part.length });
  }
  const events = values.length;
  const raw = chunks.reduce((s, c) => s + c.buf.length, 0);
  const cpuPerEvent = (fn: () => void) => {
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const c0 = process.cpuUsage();
      const t0 = Date.now();
      let n = 0;
      do {
        fn();
        n++;
      } while (Date.now() - t0 < 300);
      const c = process.cpuUsage(c0);
      best = Math.min(best, (c.user + c.system) / (n * events));
    }
    return best;
  };
  const out: NonNullable<Results['codecs']> = [];
  for (const name of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const algo = compressionsAlgorithms[name];
    const packed = chunks.map((c) => Buffer.from(algo.compressSync(c.buf) as Uint8Array));
    const compressUs = cpuPerEvent(() => {
      for (const c of chunks) algo.compressSync(c.buf);
    });
    const decompressUs = cpuPerEvent(() => {
      for (const p of packed) algo.decompressSync(p);
    });
    const bytes = packed.reduce((s, p) => s + p.length, 0);
    out.push({ codec: name, compress_us_per_event: compressUs, decompress_us_per_event: decompressUs, bytes_per_event: bytes / events, ratio: bytes / raw });
    say('compression', `${name}: ${compressUs.toFixed(2)} µs to compress and ${decompressUs.toFixed(2)} µs to decompress per event, ${(bytes / events).toFixed(1)} B per event (raw ${(raw / events).toFixed(1)})`);
  }
  return out;
}

// --- run ---------------------------------------------------------------------------------------
const systems: Record<string, Omit<DrainResult, 'labels'>> = {};
const strip = (r: DrainResult): Omit<DrainResult, 'labels'> => {
  const rest: Partial<DrainResult> = { ...r };
  delete rest.labels;
  delete rest.values;
  delete rest.window;
  return rest as Omit<DrainResult, 'labels'>;
};
const sweep: Results['sweep'] = [];
const latency: LatencyResult[] = [];
let profile: ReturnType<typeof summarizeProfiles> | null = null;
let allocations: AllocationProfile | null = null;
const memory: Results['memory'] = [];
const paired: Results['paired'] = [];
const modelRows: Results['models'] = [];
const clientRows: Results['clients'] = [];
const compression: Results['compression'] = [];
let limit: Results['limit'] = null;
let memorySteps: Results['memory_steps'] = null;
const codecs: Results['codecs'] = [];
let scorerLabels: Map<string, string> | undefined;

if (cfg.phases.includes('drain')) {
  const scorer = await drain('scorer', 'drain', { kind: 'scorer', target: cfg.n, keepLabels: true });
  scorerLabels = scorer.labels;
  systems.scorer = strip(scorer);
  systems['model-only'] = await modelOnly(DEFAULT_BATCH);
  systems.passthrough = strip(await drain('passthrough', 'drain', { kind: 'passthrough', target: cfg.n, keepLabels: false }));
  systems.naive = strip(await drain('naive', 'drain', { kind: 'scorer', env: { BATCH_MAX_SIZE: '1' }, target: cfg.n, maxS: cfg.naiveS, keepLabels: false }));
  // What batching can win inside the model at all: model-only at batch 256 over batch 1 bounds
  // scorer / naive from the model's side.
  systems['model-only-b1'] = await modelOnly(1, Math.min(cfg.n, cfg.naiveCap));
  for (const lex of ['afinn', 'vader'] as const) {
    const r = await drain(lex, 'drain', { kind: lex, target: cfg.n, keepLabels: true });
    systems[lex] = strip(r);
    // Agreement with the scorer on the same messages: a sanity check of the label plumbing.
    let same = 0;
    for (const [id, label] of r.labels!) if (scorer.labels!.get(id) === label) same++;
    (systems[lex] as Record<string, unknown>).agreement_with_scorer = same / Math.max(1, r.labels!.size);
  }
}

if (cfg.phases.includes('limit')) {
  const texts = items.slice(0, Math.min(cfg.n, cfg.limitTexts)).map((i) => i.text);
  const costs = new Map<string, ModelCost>();
  for (const m of models) costs.set(m.dir, await modelCost(m, texts));
  const main = costs.get(mainModel.dir)!;
  say('limit', `${mainModel.label}: ${main.tokens_mean.toFixed(1)} tokens per text (${main.padded_tokens_mean.toFixed(1)} padded), ${(main.useful_ops_per_text / 1e6).toFixed(2)} MFLOP per text, ${Math.round(100 * main.recurrent_share)} % in the recurrence`);
  const peak = await measurePeak(main);
  for (const p of peak) say('limit', `${p.name}: ${p.best_gops.toFixed(1)} G/s best, ${p.median_gops.toFixed(1)} median`);
  // model-only of the bench model measured now if the drain phase did not.
  systems['model-only'] ??= await modelOnly(DEFAULT_BATCH);
  limit = {
    threads: `${systemCores} intra-op threads, one per core${cfg.systemCpus ? ` of BENCH_SYSTEM_CPUS (${cfg.systemCpus})` : ': the whole machine'}, which model-only's sessions share`,
    texts: texts.length,
    peak,
    costs: models.map((m) => {
      const c = costs.get(m.dir)!;
      return { model: m.label, kind: m.kind, ...c, terms: c.terms.map(({ what, op, perToken, perRow, perTokenSquared, int8 }) => ({ what, op, perToken, perRow, perTokenSquared, int8 })) };
    }),
  };
}

if (cfg.phases.includes('models')) {
  for (const [i, m] of models.entries()) {
    const isMain = m.dir === mainModel.dir;
    const mo = isMain && systems['model-only'] ? systems['model-only'] : await modelOnly(DEFAULT_BATCH, Math.min(cfg.n, cfg.modelCap), m.dir, cfg.capSeconds);
    const sc =
      isMain && systems.scorer
        ? systems.scorer
        : strip(await drain(`model${i}-${m.name}`, 'models', { kind: 'scorer', env: { MODEL: m.dir }, target: m.transformer ? cfg.n : Math.min(cfg.n, cfg.modelCap), ...(m.transformer ? { maxS: cfg.capSeconds } : {}), keepLabels: true }));
    modelRows.push({ ...m, system: 'scorer', scorer: sc, model_only: mo });
    if (m.transformer) {
      // The row a user would build instead: one message at a time, on the consumer's thread.
      const pm = await drain(`per-message${i}-${m.name}`, 'models', { kind: 'per-message', env: { MODEL: m.dir }, target: Math.min(cfg.n, cfg.perMessageCap), keepLabels: true });
      const b1 = await modelOnly(1, Math.min(cfg.n, cfg.perMessageCap), m.dir, cfg.capSeconds);
      modelRows.push({ ...m, label: `${m.label}, one message at a time`, kind: `${m.kind}, per message (transformers.js-style pipeline)`, system: 'per-message', scorer: strip(pm), model_only: b1 });
    }
  }
}

const maxRateFor = async (): Promise<number> => {
  let max = cfg.maxRate ?? systems.scorer?.msgs_per_s;
  if (!max) {
    say('openloop', 'no scorer drain in this run: measuring the maximum first');
    max = (await drain('scorer-max', 'openloop', { kind: 'scorer', target: Math.min(cfg.n, cfg.sweepCap), keepLabels: false })).msgs_per_s;
  }
  return max;
};

if (cfg.phases.includes('clients')) {
  for (const client of cfg.clients) {
    const r =
      client === DEFAULT_CLIENT && systems.scorer
        ? systems.scorer
        : strip(await drain(`client-${client}`, 'clients', { kind: 'scorer', env: { KAFKA_CLIENT: client }, target: cfg.n, keepLabels: false }));
    clientRows.push({ client, default: client === DEFAULT_CLIENT, drain: r });
  }
}

if (cfg.phases.includes('compression')) {
  // QUICK: the default client only.
  for (const client of cfg.quick ? cfg.clients.slice(0, 1) : cfg.clients) {
    for (const codec of cfg.compressions) {
      const r = await drain(`zip-${client}-${codec}`, 'compression', {
        kind: 'scorer',
        env: { KAFKA_CLIENT: client, PRODUCER_COMPRESSION: codec },
        target: Math.min(cfg.n, cfg.compressionCap),
        keepLabels: false,
        keepValues: codec === 'none' && codecs.length === 0,
        bytes: true,
      });
      compression.push({ client, codec, default: codec === DEFAULT_COMPRESSION, ...strip(r) });
      if (r.values) codecs.push(...(await codecCost(r.values)));
    }
  }
}

if (cfg.phases.includes('openloop')) {
  const max = await maxRateFor();
  if (cfg.openLoopWarmupRunS > 0) {
    const fraction = cfg.rates[Math.floor(cfg.rates.length / 2)]!;
    say('openloop', `warm-up run (not recorded): ${cfg.openLoopWarmupRunS} s at ${Math.round(fraction * 100)} %, so the first measured run does not pay for the broker's warm-up`);
    await openLoop(fraction, max, cfg.clients[0]!, -1, cfg.openLoopWarmupRunS);
  }
  // Interleaved (repeat, client, rate), so a change in the machine's load falls on every cell alike.
  for (let repeat = 0; repeat < cfg.openLoopRepeats; repeat++) {
    for (const client of cfg.clients) for (const fraction of cfg.rates) latency.push(await openLoop(fraction, max, client, repeat));
  }
  const half = latency.filter((l) => l.rate_fraction === 0.5 && l.client === DEFAULT_CLIENT);
  if (half.length && systems.scorer) {
    const p99 = spread(half.map((l) => l.p99_ms));
    Object.assign(systems.scorer, { p50_ms: spread(half.map((l) => l.p50_ms)).median, p99_ms: p99.median, latency_at: '50% of max rate' });
  }
}

if (cfg.phases.includes('memory')) {
  // Where the inference side's memory goes, step by step in a fresh process (test/bench/memory.mjs).
  const steps = spawnSync(process.execPath, [join(ROOT, 'test/bench/memory.mjs'), 'arena', mainModel.dir, '--json', cfg.datasetsDir], { encoding: 'utf8' });
  const line = steps.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  memorySteps = line ? (JSON.parse(line) as Results['memory_steps']) : null;
  if (!memorySteps) say('memory', `memory.mjs failed: ${steps.stderr.trim().split('\n').pop()}`);
  // Peak RSS of the scorer (default settings otherwise) under settings that bound memory without code
  // changes: the image's own node flags and runtime env (every system here runs with them,
  // lib/image.ts), V8's sizing without them, and what a user can change. Interleaved rounds: one
  // drain's peak moves by tens of MB from run to run, so the report gives each variant's median.
  const image = [...IMAGE.nodeArgs, ...Object.entries(IMAGE.env).map(([k, v]) => `${k}=${v}`)].join(' ');
  const variants: [string, { env?: Record<string, string>; nodeArgs?: string[]; image?: boolean }][] = [
    [`default (the image's ${image || 'node'})`, {}],
    ["V8's and glibc's own sizing (without the image's flags)", { image: false }],
    // glibc's default: 8 arenas per core (the image sets 2).
    ['MALLOC_ARENA_MAX=16', { env: { MALLOC_ARENA_MAX: '16' } }],
    // One fetch response is what the transport holds beyond MAX_INFLIGHT_MESSAGES: 1 MiB (the default before 2026-12-04) is ~7,000 records here.
    ['FETCH_MAX_BYTES=1048576', { env: { FETCH_MAX_BYTES: String(1 << 20) } }],
    ['node --optimize-for-size', { nodeArgs: ['--optimize-for-size'] }],
    // The engine before 2026-12-04: one ONNX Runtime session of two threads (a session thread costs an isolate and a session).
    ['INFERENCE_SESSIONS=1 INTRA_OP_THREADS=2', { env: { INFERENCE_SESSIONS: '1', INTRA_OP_THREADS: '2' } }],
    ...cfg.clients.filter((c) => c !== DEFAULT_CLIENT).map((c): [string, { env: Record<string, string> }] => [`KAFKA_CLIENT=${c}`, { env: { KAFKA_CLIENT: c } }]),
  ];
  for (let round = 0; round < cfg.memoryRounds; round++) {
    for (const [label, v] of variants) {
      const r = await drain(`mem-${memory.length}`, 'memory', { kind: 'scorer', env: v.env ?? {}, ...(v.nodeArgs ? { nodeArgs: v.nodeArgs } : {}), ...(v.image === false ? { image: false } : {}), target: Math.min(cfg.n, cfg.memoryCap), keepLabels: false });
      memory.push({ variant: label, round, rss_mb: r.rss_mb, msgs_per_s: r.msgs_per_s, cpu_s_per_1k: r.cpu_s_per_1k, outputs: r.outputs, ...(r.memory ? { stats: r.memory } : {}), ...(r.gc ? { gc_ms_per_1k: r.gc.ms_per_1k } : {}) });
    }
  }
}

if (cfg.phases.includes('paired')) {
  for (let round = 0; round < cfg.pairedRounds; round++) {
    const runScorer = () => drain(`paired${round}-scorer`, 'paired', { kind: 'scorer', target: Math.min(cfg.n, cfg.pairedCap), keepLabels: false });
    const runModel = () => modelOnly(DEFAULT_BATCH, Math.min(cfg.n, cfg.pairedCap));
    let sc: DrainResult;
    let mo: DrainResult;
    if (round % 2 === 0) {
      sc = await runScorer();
      mo = await runModel();
    } else {
      mo = await runModel();
      sc = await runScorer();
    }
    const nv = await drain(`paired${round}-naive`, 'paired', { kind: 'scorer', env: { BATCH_MAX_SIZE: '1' }, target: cfg.n, maxS: cfg.naiveS, keepLabels: false });
    // The least any Kafka pipeline costs here (client, JSON, no model), beside the scorer's pipeline and its budget.
    const pt = await drain(`paired${round}-passthrough`, 'paired', { kind: 'passthrough', target: Math.min(cfg.n, cfg.pairedCap), keepLabels: false });
    paired.push({
      round,
      scorer: sc.msgs_per_s,
      model_only: mo.msgs_per_s,
      naive: nv.msgs_per_s,
      other_load_cores: [sc.other_processes_cores, mo.other_processes_cores, nv.other_processes_cores],
      scorer_over_model_only: sc.msgs_per_s / mo.msgs_per_s,
      scorer_over_naive: sc.msgs_per_s / nv.msgs_per_s,
      cpu: ratioFromCpu(sc, mo, systemCores, !cfg.systemCpus, RATIO_FLOOR),
      passthrough_cpu_s_per_1k: pt.cpu_s_per_1k,
    });
    const c = paired.at(-1)!.cpu!;
    say(
      'paired',
      `round ${round}: scorer ${fmt(sc.msgs_per_s)}, model-only ${fmt(mo.msgs_per_s)}, naive ${fmt(nv.msgs_per_s)} msg/s; scorer / model-only ${(sc.msgs_per_s / mo.msgs_per_s).toFixed(2)}; ` +
        `pipeline ${c.pipeline_cpu_s_per_1k.toFixed(3)} CPU s/1k (passthrough ${pt.cpu_s_per_1k.toFixed(3)}) against ${c.pipeline_budget_s_per_1k.toFixed(3)} at ${RATIO_FLOOR}, ceiling ${c.ceiling.toFixed(2)}`,
    );
  }
}

if (cfg.phases.includes('sweep')) {
  for (const [sessions, threads] of cfg.sweepEngines) {
    for (const size of cfg.sweepSizes) {
      const r = await drain(`sweep-s${sessions}t${threads}-b${size}`, 'sweep', {
        kind: 'scorer',
        env: { BATCH_MAX_SIZE: String(size), INFERENCE_SESSIONS: String(sessions), INTRA_OP_THREADS: String(threads) },
        ...(size < 32 ? { target: cfg.n, maxS: cfg.sweepSmallS } : { target: Math.min(cfg.n, cfg.sweepCap) }),
        keepLabels: false,
      });
      sweep.push({ batch_max_size: size, inference_sessions: sessions, intra_op_threads: threads, ...strip(r) });
    }
  }
}

if (cfg.phases.includes('profile')) {
  const dir = join(tmpDir, 'cpuprofile');
  mkdirSync(dir, { recursive: true });
  say('profile', `scorer under node --cpu-prof (${fmt(Math.min(cfg.n, cfg.profileCap))} messages; slower than unprofiled; figures not used elsewhere)`);
  const r = await drain('profile', 'profile', {
    kind: 'scorer',
    target: Math.min(cfg.n, cfg.profileCap),
    keepLabels: false,
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
    graceful: true,
  });
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  profile = r.window ? summarizeProfiles(files, r.window.messages, r.window.fromUs, r.window.toUs) : summarizeProfiles(files, r.outputs);
  say('profile', `${files.length} profile(s) in ${dir}`);
  // A second drain, sampling the main thread's allocations (they set how often it scavenges).
  const heapFile = join(dir, 'main.heapprofile');
  say('profile', `scorer sampling its main thread's allocations (${fmt(Math.min(cfg.n, cfg.profileCap))} messages)`);
  const a = await drain('profile-alloc', 'profile', {
    kind: 'scorer',
    env: { BENCH_ALLOC_PROFILE: heapFile },
    target: Math.min(cfg.n, cfg.profileCap),
    keepLabels: false,
    graceful: true,
  });
  if (existsSync(heapFile)) {
    allocations = summarizeAllocations(heapFile, a.outputs);
    say('profile', `main thread: ${fmt(allocations.bytes_per_msg)} bytes allocated per message (${heapFile})`);
  } else say('profile', `no allocation profile was written (${heapFile}); see ${join(tmpDir, 'profile-alloc.log')}`);
}
void scorerLabels;

// --- results -----------------------------------------------------------------------------------
const ratio = (a?: number, b?: number) => (a && b ? a / b : null);
const s = systems;
const git = (...args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};
const results: Results = {
  date: new Date(t0).toISOString(),
  duration_s: Math.round((Date.now() - t0) / 1000),
  machine: {
    nproc: cpus().length,
    cpu_model: cpus()[0]?.model ?? '?',
    mem_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    broker: env.KAFKA_BROKER_SOURCE ?? `Kafka at ${brokers.join(',')}`,
    load_at_start: loadAtStart,
    load_at_end: readFileSync('/proc/loadavg', 'utf8').trim(),
  },
  commit: git('rev-parse', 'HEAD'),
  commit_dirty: git('status', '--porcelain', '--', 'libs', 'services', 'test/bench', 'models').length > 0,
  model: { name: mainModel.name, version: mainModel.version, labels: mainModel.labels },
  defaults: { kafka_client: DEFAULT_CLIENT, producer_compression: DEFAULT_COMPRESSION, batch_max_size: DEFAULT_BATCH },
  config: {
    quick: cfg.quick,
    n: cfg.n,
    seed: cfg.seed,
    tweet_share: cfg.tweetShare,
    partitions: cfg.partitions,
    naive_cap: cfg.naiveCap,
    cap_seconds: cfg.capSeconds,
    sweep_cap: cfg.sweepCap,
    sweep_small_s: cfg.sweepSmallS,
    open_loop_s: cfg.openLoopS,
    open_loop_warmup_s: cfg.openLoopWarmupS,
    open_loop_warmup_run_s: cfg.openLoopWarmupRunS,
    open_loop_repeats: cfg.openLoopRepeats,
    profile_cap: cfg.profileCap,
    memory_cap: cfg.memoryCap,
    paired_rounds: cfg.pairedRounds,
    paired_cap: cfg.pairedCap,
    naive_s: cfg.naiveS,
    max_rate: cfg.maxRate,
    scorer_env: cfg.scorerEnv,
    system_cpus: cfg.systemCpus,
    image: cfg.imageFlags ? IMAGE : null,
    full_drain_max_s: cfg.fullDrainMaxS,
    compression_cap: cfg.compressionCap,
    model_cap: cfg.modelCap,
    per_message_cap: cfg.perMessageCap,
    clients: cfg.clients,
    phases: cfg.phases,
  },
  sample: describe(items),
  systems,
  ratios: {
    scorer_over_model_only: ratio(s.scorer?.msgs_per_s, s['model-only']?.msgs_per_s),
    scorer_over_naive: ratio(s.scorer?.msgs_per_s, s.naive?.msgs_per_s),
    scorer_over_passthrough: ratio(s.scorer?.msgs_per_s, s.passthrough?.msgs_per_s),
    model_only_over_model_only_b1: ratio(s['model-only']?.msgs_per_s, s['model-only-b1']?.msgs_per_s),
  },
  sweep,
  latency,
  memory,
  memory_steps: memorySteps,
  paired,
  paired_median: paired.length
    ? {
        scorer_over_model_only: spread(paired.map((p) => p.scorer_over_model_only)).median,
        scorer_over_naive: spread(paired.map((p) => p.scorer_over_naive)).median,
        ceiling: spread(paired.map((p) => p.cpu!.ceiling)).median,
        pipeline_cpu_s_per_1k: spread(paired.map((p) => p.cpu!.pipeline_cpu_s_per_1k)).median,
        pipeline_budget_s_per_1k: spread(paired.map((p) => p.cpu!.pipeline_budget_s_per_1k)).median,
      }
    : null,
  profile,
  allocations,
  models: modelRows,
  clients: clientRows,
  compression,
  codecs,
  limit,
  baselines_dev: baselinesDev(),
  targets: [],
};
/** The lexicon baselines' dev accuracy beside the bench model's (training/baselines.json, `sentiment-stream eval --baseline`). */
function baselinesDev(): Record<string, number> {
  try {
    const all = JSON.parse(readFileSync(join(ROOT, 'training/baselines.json'), 'utf8')) as Record<string, { rows: { scorer: string; accuracy: number }[] }>;
    const rows = all[mainModel.name]?.rows ?? [];
    const out: Record<string, number> = {};
    for (const [k, re] of [['afinn', /afinn/i], ['vader', /vader/i]] as const) {
      const row = rows.find((x) => re.test(x.scorer));
      if (row) out[k] = row.accuracy;
    }
    return out;
  } catch {
    return {};
  }
}
const atRate = (f: number) => latency.filter((l) => l.rate_fraction === f && l.client === DEFAULT_CLIENT).map((l) => l.p99_ms);
const p99Target = (f: number, limitMs: number) => {
  const xs = atRate(f);
  if (xs.length === 0) return { name: `p99 end-to-end <= ${limitMs} ms at ${f * 100}% of max rate`, measured: null, limit: limitMs, met: null };
  const sp = spread(xs);
  return { name: `p99 end-to-end <= ${limitMs} ms at ${f * 100}% of max rate (median of ${sp.n} runs; range ${Math.round(sp.min)}-${Math.round(sp.max)} ms)`, measured: sp.median, limit: limitMs, met: sp.median <= limitMs };
};
results.targets = [
  results.paired_median
    ? { name: `scorer >= ${RATIO_FLOOR} x model-only (median of ${paired.length} paired rounds; full drains: ${results.ratios.scorer_over_model_only?.toFixed(2) ?? '-'}; the pipeline's CPU s/1k ${results.paired_median.pipeline_cpu_s_per_1k?.toFixed(3) ?? '-'} against a budget of ${results.paired_median.pipeline_budget_s_per_1k?.toFixed(3) ?? '-'} on these cores)`, measured: results.paired_median.scorer_over_model_only, limit: RATIO_FLOOR, met: ge(results.paired_median.scorer_over_model_only, RATIO_FLOOR) }
    : { name: `scorer >= ${RATIO_FLOOR} x model-only`, measured: results.ratios.scorer_over_model_only, limit: RATIO_FLOOR, met: ge(results.ratios.scorer_over_model_only, RATIO_FLOOR) },
  p99Target(0.5, 40),
  p99Target(0.75, 80),
  { name: 'scorer peak RSS <= 300 MB', measured: s.scorer?.rss_mb ?? null, limit: 300, met: s.scorer?.rss_mb !== undefined ? s.scorer.rss_mb <= 300 : null },
];
function ge(x: number | null, lim: number): boolean | null {
  return x === null ? null : x >= lim;
}

mkdirSync(cfg.outDir, { recursive: true });
const latestJson = join(cfg.outDir, 'latest.json');
writeFileSync(latestJson, `${JSON.stringify(results, null, 2)}\n`);
copyFileSync(latestJson, join(cfg.outDir, `${results.date.slice(0, 10)}.json`));
writeFileSync(join(cfg.outDir, 'latest.md'), renderMarkdown(results));
say('results', `wrote ${latestJson}, ${results.date.slice(0, 10)}.json and latest.md`);

const python = env.PYTHON ?? '/usr/bin/python3';
const plot = spawnSync(python, [join(ROOT, 'test/bench/plot.py'), latestJson, cfg.outDir], { stdio: ['ignore', 'inherit', 'inherit'] });
if (plot.status !== 0) say('results', `plots failed (status ${plot.status ?? plot.error?.message}; ${python} needs matplotlib: make bench-deps); the JSON and Markdown are complete`);

process.stdout.write(renderMarkdown(results));
say('done', `in ${Math.round((Date.now() - t0) / 1000)} s; load average at start ${loadAtStart}, at end ${results.machine.load_at_end}`);
process.exit(0);
