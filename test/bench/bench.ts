/**
 * `make bench`: end-to-end throughput, latency, CPU and memory of the scorer against a real broker
 * and the real model, beside its bounds (model-only, passthrough) and baselines (naive, afinn, vader).
 *
 *   KAFKA_BROKERS=127.0.0.1:39092 node --import tsx test/bench/bench.ts      (make bench starts the broker)
 *
 * Environment (all optional): QUICK=1 (small N and caps: the whole run in under 5 minutes),
 * BENCH_N (backlog size, default 200000, QUICK 10000), BENCH_SEED, BENCH_TWEET_SHARE (0.5),
 * MODEL (sst2-bilstm), BENCH_PHASES (comma list of drain,sweep,openloop,profile; default all),
 * BENCH_OPEN_LOOP_S (seconds per offered rate), BENCH_NAIVE_CAP (messages), BENCH_SWEEP_CAP,
 * DATASETS_DIR (../shared/datasets), BENCH_OUT (test/bench/results; QUICK: test/bench/results/quick).
 *
 * Progress goes to stderr; results to BENCH_OUT/latest.json, BENCH_OUT/<YYYY-MM-DD>.json,
 * BENCH_OUT/latest.md and PNG plots (test/bench/plot.py, matplotlib).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { countRecords, createKafka, createProducer, createTopics, produceAll, readTopic, withAdmin } from './lib/kafka.js';
import { machineBusyS, procSample, promSum, sleep, startSystem, type ProcSample, type SystemProcess } from './lib/proc.js';
import { describe, loadPools, sample, type PoolItem } from './lib/sample.js';
import type { LatencyResult, SystemResult } from './report.js';
import { summarizeProfiles } from './profile.js';
import { renderMarkdown, type Results } from './report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const env = process.env;
const QUICK = env.QUICK === '1' || env.QUICK === 'true';
const num = (name: string, quick: number, full: number) => Number(env[name] ?? (QUICK ? quick : full));

const cfg = {
  quick: QUICK,
  n: num('BENCH_N', 10_000, 200_000),
  seed: Number(env.BENCH_SEED ?? 20_261_128),
  tweetShare: Number(env.BENCH_TWEET_SHARE ?? 0.5),
  model: env.MODEL ?? 'sst2-bilstm',
  partitions: 6,
  /** naive = BATCH_MAX_SIZE=1: drained for a capped count (it would take an hour on the full backlog). */
  naiveCap: num('BENCH_NAIVE_CAP', 1_000, 5_000),
  /** Every capped drain also stops this long after its first output, whatever its count. */
  capSeconds: num('BENCH_CAP_S', 15, 60),
  /** A safety stop for full drains (N messages): far above what any system here needs. */
  fullDrainMaxS: num('BENCH_FULL_DRAIN_MAX_S', 300, 1_200),
  sweepSizes: [1, 8, 32, 64, 128, 256, 512, 1024],
  sweepThreads: [1, 2],
  /** Messages per sweep point: batch >= 32 / batch < 32. */
  sweepCap: num('BENCH_SWEEP_CAP', 2_000, 20_000),
  sweepCapSmall: num('BENCH_SWEEP_CAP_SMALL', 500, 4_000),
  rates: (env.BENCH_RATES ?? '0.25,0.5,0.75').split(',').map(Number),
  openLoopS: num('BENCH_OPEN_LOOP_S', 10, 45),
  /** Latencies of messages sent in the first seconds of each rate are left out (JIT, connections, first fetches). */
  openLoopWarmupS: num('BENCH_OPEN_LOOP_WARMUP_S', 2, 5),
  profileCap: num('BENCH_PROFILE_CAP', 3_000, 40_000),
  /** Paired rounds: scorer, model-only and naive back to back (order alternating), so each ratio compares runs under the same outside load. */
  pairedRounds: num('BENCH_PAIRED_ROUNDS', 2, 3),
  pairedCap: num('BENCH_PAIRED_CAP', 2_000, 30_000),
  pairedNaiveCap: num('BENCH_PAIRED_NAIVE_CAP', 500, 3_000),
  /** Open loop: the scorer's maximum (msgs/s) to take fractions of, instead of this run's drain figure. */
  maxRate: env.BENCH_MAX_RATE ? Number(env.BENCH_MAX_RATE) : null,
  /** Extra settings, `K=V,K=V` (e.g. INTRA_OP_THREADS=2), for every run of the real scorer: drain, naive, open loop. */
  scorerEnv: Object.fromEntries((env.BENCH_SCORER_ENV ?? '').split(',').filter((kv) => kv.includes('=')).map((kv) => kv.split('=', 2) as [string, string])),
  /** Messages per memory variant (RSS keeps rising for a while as longer texts and bigger fetches show up). */
  memoryCap: num('BENCH_MEMORY_CAP', 2_000, 50_000),
  phases: (env.BENCH_PHASES ?? 'drain,sweep,openloop,memory,profile').split(',').map((s) => s.trim()),
  datasetsDir: resolve(ROOT, env.DATASETS_DIR ?? '../shared/datasets'),
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
const RUN = `${new Date(t0).toISOString().slice(0, 19).replace(/[-:T]/g, '')}-${randomBytes(2).toString('hex')}`;
// Logs, CPU profiles and the sampled texts: always under test/bench/results/tmp/ (ignored by git).
const tmpDir = join(ROOT, 'test/bench/results/tmp', RUN);
mkdirSync(tmpDir, { recursive: true });

function say(phase: string, msg: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench +${s}s] ${phase.padEnd(10)} ${msg}\n`);
}
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

const kafka = createKafka(brokers);
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

/** The broker deploy/kafka started for this port, if it is local: its CPU is reported apart. */
const brokerPid = (() => {
  const port = /:(\d+)$/.exec(brokers[0]!)?.[1];
  try {
    return Number(readFileSync(join(ROOT, '.cache/kafka/run', port ?? '', 'kafka.pid'), 'utf8').trim()) || null;
  } catch {
    return null;
  }
})();

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
  if (wall < 0.5 || messages <= 0) return { cpu_s_per_1k: NaN, broker_cpu_s_per_1k: NaN, harness_cpu_s_per_1k: NaN, other_processes_cores: NaN };
  const sysS = b.sys.cpuS - a.sys.cpuS;
  const brokerS = b.brokerS - a.brokerS;
  const harnessS = b.harnessS - a.harnessS;
  const otherS = b.machineS - a.machineS - sysS - brokerS - harnessS;
  return {
    cpu_s_per_1k: (sysS / messages) * 1000,
    broker_cpu_s_per_1k: brokerPid ? (brokerS / messages) * 1000 : NaN,
    harness_cpu_s_per_1k: (harnessS / messages) * 1000,
    other_processes_cores: Math.max(0, otherS / wall),
  };
}

say('setup', `run ${RUN}, ${cfg.quick ? 'QUICK, ' : ''}N=${fmt(cfg.n)}, model ${cfg.model}, brokers ${brokers.join(',')}, phases ${cfg.phases.join(',')}`);

// --- load ------------------------------------------------------------------------------------
const pools = loadPools(cfg.datasetsDir);
const items = sample(pools, cfg.n, cfg.seed, cfg.tweetShare);
const textsFile = join(tmpDir, 'texts.json');
writeFileSync(textsFile, JSON.stringify(items.map((i) => i.text)));
const modelLabels = (JSON.parse(readFileSync(join(ROOT, 'models', cfg.model, 'config.json'), 'utf8')) as { labels: string[] }).labels;
const modelVersion = (JSON.parse(readFileSync(join(ROOT, 'models', cfg.model, 'config.json'), 'utf8')) as { version: string }).version;
say('setup', `sample: ${JSON.stringify(describe(items))}`);

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

// --- one system draining the backlog ---------------------------------------------------------
/** What a drain measures (report.ts's SystemResult), plus what the harness keeps for later phases. */
interface DrainResult extends SystemResult {
  labels?: Map<string, string>;
  /** The drain window on the child's monotonic clock (µs), for cutting a CPU profile to it. */
  window?: { fromUs: number; toUs: number; messages: number };
}

interface DrainOptions {
  kind: 'scorer' | 'passthrough' | 'afinn' | 'vader';
  env?: Record<string, string>;
  /** Stop once this many outputs are on the broker (N: the whole backlog). */
  target: number;
  keepLabels: boolean;
  nodeArgs?: string[];
  /** Stop with SIGTERM and wait (a CPU profile is written at exit) instead of SIGKILL. */
  graceful?: boolean;
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
  );
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
  try {
    for (;;) {
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
      const maxS = opts.target < cfg.n ? cfg.capSeconds : cfg.fullDrainMaxS;
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
  const metrics = await sys.metrics().catch(() => '');
  const final = procSample(sys.pid)!;
  if (opts.graceful) {
    sys.child.kill('SIGTERM');
    await Promise.race([sys.exited, sleep(30_000)]);
  }
  await sys.kill();

  const [outputs, deadLetters] = await withAdmin(kafka, async (a) => [await countRecords(a, out), await countRecords(a, dlq)]);
  const records = await readTopic(kafka, out, outputs, opts.keepLabels, (d) => say(phase, `${name}: reading outputs ${fmt(d)} / ${fmt(outputs)}`));
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
  if (metrics) {
    const batches = promSum(metrics, 'sentiment_batch_size_count');
    const texts = promSum(metrics, 'sentiment_batch_size_sum');
    if (batches > 0) {
      result.mean_batch = texts / batches;
      result.tokenize_ms_per_1k = (promSum(metrics, 'sentiment_tokenize_duration_seconds_sum') * 1e6) / texts;
      result.inference_ms_per_1k = (promSum(metrics, 'sentiment_inference_duration_seconds_sum') * 1e6) / texts;
    }
  }
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
    Object.assign(result, accuracy(labels));
  }
  say(
    phase,
    `${name}: ${fmt(result.msgs_per_s)} msg/s over ${windowS.toFixed(1)} s (${fmt(outputs)} outputs${capped ? `, capped by ${capped}` : ''}), ` +
      `${result.cpu_s_per_1k.toFixed(3)} CPU s/1k, peak RSS ${result.rss_mb.toFixed(0)} MB` +
      (result.mean_batch ? `, mean batch ${result.mean_batch.toFixed(1)}` : '') +
      (result.accuracy !== undefined ? `, held-out accuracy ${(100 * result.accuracy).toFixed(1)}%` : ''),
  );
  return result;
}

/** Accuracy over sampled items whose gold label is one of the model's labels: held-out (dev) ones, and all. */
function accuracy(labels: Map<string, string>) {
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
async function modelOnly(batch: number, limit = cfg.n): Promise<DrainResult> {
  const sys: SystemProcess = await startSystem(
    'model-only',
    { BENCH_TEXTS_FILE: textsFile, BENCH_TEXTS_LIMIT: String(limit), BATCH_MAX_SIZE: String(batch), MODEL: cfg.model },
    join(tmpDir, `model-only-b${batch}.log`),
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
    if (exitCode !== undefined) throw new Error(`model-only exited (${exitCode}); see ${join(tmpDir, `model-only-b${batch}.log`)}`);
    const cpu = procSample(sys.pid);
    if (cpu && done > 0 && !first) first = snapshot(cpu, done);
    if (Date.now() - lastSay >= 2_000) {
      say('drain', `model-only: ${fmt(done)} / ${fmt(limit)} texts, ${fmt(((done - sayCount) * 1000) / (Date.now() - lastSay))} texts/s now`);
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
    capped: null,
    ...attribute(first, end, r.outputs - first.count),
    rss_mb: final.hwmMb,
    startup_s: readyAt ? (readyAt - sys.startedAt) / 1000 : NaN,
    dead_letters: 0,
    mean_batch: r.outputs / r.batches,
    tokenize_ms_per_1k: (r.tokenizeMs * 1000) / r.outputs,
    inference_ms_per_1k: (r.inferenceMs * 1000) / r.outputs,
  };
  say('drain', `model-only: ${fmt(out.msgs_per_s)} texts/s over ${windowS.toFixed(1)} s, ${out.cpu_s_per_1k.toFixed(3)} CPU s/1k, peak RSS ${out.rss_mb.toFixed(0)} MB`);
  return out;
}

// --- open loop: a fixed offered rate into a fresh topic ---------------------------------------

const pct = (sorted: number[], p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);

async function openLoop(fraction: number, maxRate: number): Promise<LatencyResult> {
  const rate = Math.max(1, Math.round(fraction * maxRate));
  const tag = `ol${Math.round(fraction * 100)}`;
  const input = `bench.${RUN}.${tag}.in`;
  const out = `bench.${RUN}.${tag}.out`;
  const dlq = `bench.${RUN}.${tag}.dlq`;
  await withAdmin(kafka, async (admin) => {
    await createTopics(admin, [input], cfg.partitions);
    await createTopics(admin, [out, dlq], cfg.partitions, true);
  });
  const sys = await startSystem(
    'scorer',
    { KAFKA_BROKERS: brokers.join(','), INPUT_TOPICS: input, OUTPUT_TOPIC: out, DLQ_TOPIC: dlq, GROUP_ID: `bench.${RUN}.${tag}`, MODEL: cfg.model, ...cfg.scorerEnv },
    join(tmpDir, `${tag}.log`),
  );
  await sys.ready();

  // The downstream consumer: latency = arrival here - the input record's timestamp.
  const lat: number[] = [];
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
        lat.push(arrived - sentAt);
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
  const end = start + cfg.openLoopS * 1000;
  const total = Math.round(rate * cfg.openLoopS);
  let sent = 0;
  let failed = 0;
  const pending = new Set<Promise<unknown>>();
  const snap0 = snapshot(procSample(sys.pid)!, 0);
  let lastSay = start;
  say('openloop', `${tag}: offering ${fmt(rate)} msg/s (${Math.round(fraction * 100)}% of ${fmt(maxRate)}) for ${cfg.openLoopS} s`);
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
    if (now - lastSay >= 2_000) {
      const s = [...lat].sort((a, b) => a - b);
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
  await consumer.disconnect();
  await producer.disconnect();
  await sys.kill();

  const s = lat.sort((a, b) => a - b);
  const b = brokerLat.sort((x, y) => x - y);
  const batches = promSum(metrics, 'sentiment_batch_size_count');
  const r: LatencyResult = {
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
    other_processes_cores: att.other_processes_cores,
    ...(batches > 0
      ? {
          mean_batch: promSum(metrics, 'sentiment_batch_size_sum') / batches,
          batch_tokenize_ms: (promSum(metrics, 'sentiment_tokenize_duration_seconds_sum') / batches) * 1000,
          batch_inference_ms: (promSum(metrics, 'sentiment_inference_duration_seconds_sum') / batches) * 1000,
        }
      : {}),
    harness_loop_delay_p99_ms: loopDelay.percentile(99) / 1e6,
    quantiles_ms: Array.from({ length: 101 }, (_, k) => pct(s, k)),
  };
  if (failed > 0) say('openloop', `${tag}: ${fmt(failed)} sends failed`);
  say('openloop', `${tag}: ${fmt(r.received)} / ${fmt(sent)} received; latency p50 ${r.p50_ms} ms, p95 ${r.p95_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms (mean batch ${r.mean_batch?.toFixed(1) ?? '?'})`);
  return r;
}

// --- run ---------------------------------------------------------------------------------------
const systems: Record<string, Omit<DrainResult, 'labels'>> = {};
const strip = (r: DrainResult): Omit<DrainResult, 'labels'> => {
  const rest: Partial<DrainResult> = { ...r };
  delete rest.labels;
  delete rest.window;
  return rest as Omit<DrainResult, 'labels'>;
};
const sweep: Results['sweep'] = [];
const latency: LatencyResult[] = [];
let profile: ReturnType<typeof summarizeProfiles> | null = null;
const memory: Results['memory'] = [];
const paired: Results['paired'] = [];
const defaultBatch = 256; // the scorer's BATCH_MAX_SIZE default (docs/configuration.md)

if (cfg.phases.includes('drain')) {
  const scorer = await drain('scorer', 'drain', { kind: 'scorer', target: cfg.n, keepLabels: true });
  systems.scorer = strip(scorer);
  systems['model-only'] = await modelOnly(defaultBatch);
  systems.passthrough = strip(await drain('passthrough', 'drain', { kind: 'passthrough', target: cfg.n, keepLabels: false }));
  systems.naive = strip(await drain('naive', 'drain', { kind: 'scorer', env: { BATCH_MAX_SIZE: '1' }, target: Math.min(cfg.n, cfg.naiveCap), keepLabels: false }));
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

if (cfg.phases.includes('paired')) {
  for (let round = 0; round < cfg.pairedRounds; round++) {
    const runScorer = () => drain(`paired${round}-scorer`, 'paired', { kind: 'scorer', target: Math.min(cfg.n, cfg.pairedCap), keepLabels: false });
    const runModel = () => modelOnly(defaultBatch, Math.min(cfg.n, cfg.pairedCap));
    let sc: DrainResult;
    let mo: DrainResult;
    if (round % 2 === 0) {
      sc = await runScorer();
      mo = await runModel();
    } else {
      mo = await runModel();
      sc = await runScorer();
    }
    const nv = await drain(`paired${round}-naive`, 'paired', { kind: 'scorer', env: { BATCH_MAX_SIZE: '1' }, target: Math.min(cfg.n, cfg.pairedNaiveCap), keepLabels: false });
    paired.push({
      round,
      scorer: sc.msgs_per_s,
      model_only: mo.msgs_per_s,
      naive: nv.msgs_per_s,
      other_load_cores: [sc.other_processes_cores, mo.other_processes_cores, nv.other_processes_cores],
      scorer_over_model_only: sc.msgs_per_s / mo.msgs_per_s,
      scorer_over_naive: sc.msgs_per_s / nv.msgs_per_s,
    });
    say('paired', `round ${round}: scorer ${fmt(sc.msgs_per_s)}, model-only ${fmt(mo.msgs_per_s)}, naive ${fmt(nv.msgs_per_s)} msg/s`);
  }
}

if (cfg.phases.includes('sweep')) {
  for (const threads of cfg.sweepThreads) {
    for (const size of cfg.sweepSizes) {
      const target = Math.min(cfg.n, size < 32 ? cfg.sweepCapSmall : cfg.sweepCap);
      const r = await drain(`sweep-t${threads}-b${size}`, 'sweep', {
        kind: 'scorer',
        env: { BATCH_MAX_SIZE: String(size), INTRA_OP_THREADS: String(threads) },
        target,
        keepLabels: false,
      });
      sweep.push({ batch_max_size: size, intra_op_threads: threads, ...strip(r) });
    }
  }
}

if (cfg.phases.includes('openloop')) {
  let max = cfg.maxRate ?? systems.scorer?.msgs_per_s;
  if (!max) {
    say('openloop', 'no scorer drain in this run: measuring the maximum first');
    max = (await drain('scorer-max', 'openloop', { kind: 'scorer', target: Math.min(cfg.n, cfg.sweepCap), keepLabels: false })).msgs_per_s;
  }
  for (const fraction of cfg.rates) latency.push(await openLoop(fraction, max));
  const half = latency.find((l) => l.rate_fraction === 0.5);
  if (half && systems.scorer) Object.assign(systems.scorer, { p50_ms: half.p50_ms, p95_ms: half.p95_ms, p99_ms: half.p99_ms, latency_at: '50% of max rate' });
}

if (cfg.phases.includes('memory')) {
  // Peak RSS of the scorer (default settings otherwise) under settings that bound memory without code changes.
  const variants: [string, Record<string, string>][] = [
    ['default', {}],
    ['MALLOC_ARENA_MAX=2', { MALLOC_ARENA_MAX: '2' }],
    ['FETCH_MAX_BYTES=1048576', { FETCH_MAX_BYTES: String(1 << 20) }],
    ['both', { MALLOC_ARENA_MAX: '2', FETCH_MAX_BYTES: String(1 << 20) }],
  ];
  for (const [label, extra] of variants) {
    const r = await drain(`mem-${memory.length}`, 'memory', { kind: 'scorer', env: extra, target: Math.min(cfg.n, cfg.memoryCap), keepLabels: false });
    memory.push({ variant: label, rss_mb: r.rss_mb, msgs_per_s: r.msgs_per_s, cpu_s_per_1k: r.cpu_s_per_1k, outputs: r.outputs });
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
}

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
    load_at_start: readFileSync('/proc/loadavg', 'utf8').trim(),
  },
  commit: git('rev-parse', 'HEAD'),
  commit_dirty: git('status', '--porcelain').length > 0,
  model: { name: cfg.model, version: modelVersion, labels: modelLabels },
  config: {
    quick: cfg.quick,
    n: cfg.n,
    seed: cfg.seed,
    tweet_share: cfg.tweetShare,
    partitions: cfg.partitions,
    naive_cap: cfg.naiveCap,
    cap_seconds: cfg.capSeconds,
    sweep_cap: cfg.sweepCap,
    sweep_cap_small: cfg.sweepCapSmall,
    open_loop_s: cfg.openLoopS,
    open_loop_warmup_s: cfg.openLoopWarmupS,
    profile_cap: cfg.profileCap,
    memory_cap: cfg.memoryCap,
    paired_rounds: cfg.pairedRounds,
    paired_cap: cfg.pairedCap,
    paired_naive_cap: cfg.pairedNaiveCap,
    max_rate: cfg.maxRate,
    scorer_env: cfg.scorerEnv,
    full_drain_max_s: cfg.fullDrainMaxS,
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
  paired,
  paired_median: paired.length
    ? { scorer_over_model_only: median(paired.map((p) => p.scorer_over_model_only)), scorer_over_naive: median(paired.map((p) => p.scorer_over_naive)) }
    : null,
  profile,
  targets: [],
};
const half = latency.find((l) => l.rate_fraction === 0.5);
results.targets = [
  { name: 'scorer >= 0.7 x model-only', measured: results.ratios.scorer_over_model_only, limit: 0.7, met: ge(results.ratios.scorer_over_model_only, 0.7) },
  { name: 'scorer >= 10 x naive', measured: results.ratios.scorer_over_naive, limit: 10, met: ge(results.ratios.scorer_over_naive, 10) },
  { name: 'p99 end-to-end <= 100 ms at 50% of max rate', measured: half?.p99_ms ?? null, limit: 100, met: half ? half.p99_ms <= 100 : null },
  { name: 'scorer peak RSS <= 400 MB', measured: s.scorer?.rss_mb ?? null, limit: 400, met: s.scorer ? s.scorer.rss_mb <= 400 : null },
];
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
function ge(x: number | null, limit: number): boolean | null {
  return x === null ? null : x >= limit;
}

mkdirSync(cfg.outDir, { recursive: true });
const latestJson = join(cfg.outDir, 'latest.json');
writeFileSync(latestJson, `${JSON.stringify(results, null, 2)}\n`);
copyFileSync(latestJson, join(cfg.outDir, `${results.date.slice(0, 10)}.json`));
writeFileSync(join(cfg.outDir, 'latest.md'), renderMarkdown(results));
say('results', `wrote ${latestJson}, ${results.date.slice(0, 10)}.json and latest.md`);

const plot = spawnSync(env.PYTHON ?? '/usr/bin/python3', [join(ROOT, 'test/bench/plot.py'), latestJson, cfg.outDir], { stdio: ['ignore', 'inherit', 'inherit'] });
if (plot.status !== 0) say('results', `plots failed (status ${plot.status ?? plot.error?.message}); the JSON and Markdown are complete`);

process.stdout.write(renderMarkdown(results));
say('done', `in ${Math.round((Date.now() - t0) / 1000)} s`);
process.exit(0);

