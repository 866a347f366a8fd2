/**
 * Markdown summary of a benchmark result. bench.ts writes results/latest.md with it; by hand:
 *
 *   node --import tsx test/bench/report.ts [test/bench/results/latest.json] [--docs]
 *
 * prints the summary; --docs also replaces the block between `<!-- bench:begin -->` and
 * `<!-- bench:end -->` in docs/performance.md with it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CostTermOut, ModelCost } from './lib/onnx.js';
import type { RatioFromCpu } from './lib/ratio.js';
import { spread } from './lib/tail.js';
import type { AllocationProfile, ThreadProfile } from './profile.js';

type Num = number | null | undefined;

export interface SystemResult {
  msgs_per_s: number;
  /** Outputs on the output topic when it was stopped (incl. the first batch). */
  outputs: number;
  window_s: number;
  capped: string | null;
  cpu_s_per_1k: number;
  broker_cpu_s_per_1k: number;
  harness_cpu_s_per_1k: number;
  /** Average cores kept busy by processes other than this system, the broker and the harness (other work on the machine). */
  other_processes_cores: number;
  rss_mb: number;
  startup_s: number;
  dead_letters: number;
  mean_batch?: number;
  /** Worker time per batch from the scorer's own histograms. */
  tokenize_ms_per_1k?: number;
  inference_ms_per_1k?: number;
  accuracy?: number;
  accuracy_n?: number;
  accuracy_all_labeled?: number;
  accuracy_all_labeled_n?: number;
  agreement_with_scorer?: number;
  p50_ms?: number;
  p95_ms?: number;
  p99_ms?: number;
  duplicates?: number;
  /** Where the process's memory was at its highest sampled RSS (system.mjs statistics). */
  memory?: MemoryStats;
  /** Main-thread garbage collection over the whole run. */
  gc?: { count: number; total_ms: number; max_ms: number; over_10ms: number; ms_per_1k: number };
  /** Bytes the broker holds per output (the output topic's log segments / outputs). */
  broker_bytes_per_msg?: number;
  /** Texts scored per second from the scorer's sentiment_batch_size_sum, polled twice a second (its own progress, finer than the produce requests). */
  scored_per_s?: number;
  /** Highest sentiment_inflight_messages seen (polled twice a second). */
  inflight_max?: number;
}

/** system.mjs's sample at the highest RSS: MB. */
export interface MemoryStats {
  rss_mb: number;
  rss_anon_mb: number;
  rss_file_mb: number;
  main_heap_total_mb: number;
  main_heap_used_mb: number;
  main_external_mb: number;
  main_array_buffers_mb: number;
  worker_heap_total_mb?: number;
  worker_heap_used_mb?: number;
  worker_external_mb?: number;
  worker_malloced_mb?: number;
  threads: number;
  hwm_mb: number;
}

export interface TailShare {
  /** Share of the messages above p99 that lived through it. */
  slow: number;
  /** Share of all measured messages that did (the base rate). */
  all: number;
}

/** One offered rate of the open-loop phase. */
export interface LatencyResult {
  client: string;
  repeat: number;
  rate_fraction: number;
  offered_msgs_per_s: number;
  sent: number;
  received: number;
  measured: number;
  achieved_msgs_per_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  /** Same percentiles to the output's broker append time (no consumer hop). */
  broker_p50_ms: number;
  broker_p99_ms: number;
  rss_mb: number;
  cpu_s_per_1k: number;
  broker_cpu_s_per_1k: number;
  /** The harness's own producer and consumer (absent before 2026-12-04). */
  harness_cpu_s_per_1k?: number;
  other_processes_cores: number;
  mean_batch?: number;
  /** Mean worker time per batch (the scorer's histograms), to set beside the latency. */
  batch_tokenize_ms?: number;
  batch_inference_ms?: number;
  harness_loop_delay_p99_ms: number;
  /** Longest event-loop delay of the scorer's main thread in the window. */
  scorer_loop_max_ms: number;
  scorer_gc_ms_per_s: number;
  /** The scorer's main thread per second of the run: on a core, and runnable but waiting for one (/proc schedstat; absent before 2026-12-05). */
  scorer_main_run_ms_per_s?: number;
  scorer_main_wait_ms_per_s?: number;
  tail: {
    p99_ms: number;
    slow: number;
    broker_gc: (TailShare & { pauses: number; max_ms: number; total_ms: number }) | null;
    scorer_gc: TailShare & { pauses: number; max_ms: number; total_ms: number };
    scorer_loop: TailShare & { seconds: number };
    none_slow: number;
  };
  /** 1-minute load average when the run ended. */
  load_end: number;
  /** 101 quantiles (0..100 %) of the consumer-side latency, for the plots. */
  quantiles_ms: number[];
}

export interface Results {
  date: string;
  duration_s: number;
  machine: { nproc: number; cpu_model: string; mem_gib: number; node: string; broker: string; load_at_start: string; load_at_end?: string };
  commit: string;
  commit_dirty: boolean;
  model: { name: string; version: string; labels: string[] };
  defaults?: { kafka_client: string; producer_compression: string; batch_max_size: number };
  config: Record<string, unknown> & { quick: boolean; n: number; naive_cap: number; open_loop_s: number; open_loop_warmup_s: number };
  sample: Record<string, number>;
  systems: Record<string, SystemResult>;
  ratios: {
    scorer_over_model_only: number | null;
    scorer_over_naive: number | null;
    scorer_over_passthrough: number | null;
    /** What batching wins inside the model: the model's side of scorer / naive. */
    model_only_over_model_only_b1?: number | null;
  };
  sweep: (Record<string, unknown> & SystemResult)[];
  latency: LatencyResult[];
  paired?: {
    round: number;
    scorer: number;
    model_only: number;
    naive: number;
    other_load_cores: number[];
    scorer_over_model_only: number;
    scorer_over_naive: number;
    /** What the CPU per message says of the ratio (absent before 2026-12-05). */
    cpu?: RatioFromCpu;
    /** A passthrough drain's own CPU (Kafka client and JSON, no model) in the same round. */
    passthrough_cpu_s_per_1k?: number;
  }[];
  /** ceiling and the pipeline's CPU against its budget: absent before 2026-12-05 (lib/ratio.ts). */
  paired_median?: { scorer_over_model_only: number; scorer_over_naive: number; ceiling?: number; pipeline_cpu_s_per_1k?: number; pipeline_budget_s_per_1k?: number } | null;
  memory: { variant: string; round?: number; rss_mb: number; msgs_per_s: number; cpu_s_per_1k: number; outputs: number; stats?: MemoryStats; gc_ms_per_1k?: number }[];
  memory_steps?: { model: string; variant: string; steps: { step: string; rss_mb: number; delta_mb: number; peak_mb: number }[] } | null;
  profile: { messages: number; window_s: number | null; threads: ThreadProfile[] } | null;
  /** The main thread's allocations per message (a second profile drain); absent in runs before 2026-12-05. */
  allocations?: AllocationProfile | null;
  /** One row per model folder (and the one-message-at-a-time transformer). */
  models?: {
    label: string;
    name: string;
    version: string;
    kind: string;
    source: string;
    dev_accuracy: number | null;
    transformer: boolean;
    system: 'scorer' | 'per-message';
    scorer: SystemResult;
    model_only: SystemResult;
  }[];
  clients?: { client: string; default: boolean; drain: SystemResult }[];
  compression?: (SystemResult & { client: string; codec: string; default: boolean })[];
  /** Each codec on the scorer's real events, ~150 KB record batches: CPU µs per event and size. */
  codecs?: { codec: string; compress_us_per_event: number; decompress_us_per_event: number; bytes_per_event: number; ratio: number }[];
  limit?: {
    threads: string;
    texts: number;
    peak: { name: string; ops: number; best_gops: number; median_gops: number; us_per_run: number; cpu_cores: number }[];
    costs: (Omit<ModelCost, 'terms'> & { model: string; kind: string; terms: CostTermOut[] })[];
  } | null;
  /** Dev accuracy of the lexicon baselines on the bench model's dataset (training/baselines.json). */
  baselines_dev?: Record<string, number>;
  targets: { name: string; measured: number | null; limit: number; met: boolean | null }[];
}

const n0 = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const n1 = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(1));
const n2 = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));
const n3 = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(3));
const pc = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)} %`);
/** Cores each process kept busy in an open-loop run (CPU s per 1,000 messages times the rate), on the machine's shared cores. */
const coresBusy = (l: { cpu_s_per_1k: number; broker_cpu_s_per_1k: number; harness_cpu_s_per_1k?: number; achieved_msgs_per_s: number }) => {
  const cores = (perK: number | undefined) => (perK === undefined ? NaN : (perK * l.achieved_msgs_per_s) / 1000);
  return `${n2(cores(l.cpu_s_per_1k))} + ${n2(cores(l.broker_cpu_s_per_1k))} + ${n2(cores(l.harness_cpu_s_per_1k))}`;
};

const ORDER = ['scorer', 'model-only', 'passthrough', 'naive', 'model-only-b1', 'afinn', 'vader'];
const WHAT: Record<string, string> = {
  scorer: 'the service, default settings',
  'model-only': "tokenizer + ONNX Runtime via loadModel().predict, batches of the scorer's BATCH_MAX_SIZE, two calls in flight and the scorer's INFERENCE_SESSIONS x INTRA_OP_THREADS, no Kafka",
  passthrough: 'same pipeline, predictor copies a constant result (Kafka + JSON bound)',
  naive: 'the scorer with BATCH_MAX_SIZE=1',
  'model-only-b1': 'model-only with batches of 1: what batching wins inside the model',
  afinn: 'same pipeline, AFINN lexicon (`sentiment`), CLI label mapping',
  vader: 'same pipeline, VADER lexicon (`vader-sentiment`), CLI label mapping',
};

interface Spread {
  min: number;
  median: number;
  max: number;
  n: number;
}
function spreadOf(xs: number[]): Spread {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return { min: NaN, median: NaN, max: NaN, n: 0 };
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]!, n: s.length };
}
const range = (sp: Spread) => (sp.n === 0 ? '–' : sp.n === 1 ? n0(sp.median) : `**${n0(sp.median)}** (${n0(sp.min)}–${n0(sp.max)})`);

/** The distance to the limit of one model, derived from its cost, model-only figures and the GEMM peaks. */
export function limitRows(r: Results) {
  const L = r.limit;
  if (!L) return [];
  // The peak a model is held to: the best rate any GEMM of its kind reached here (small matrices
  // that stay in cache can beat the 1024-cube one).
  const best = (xs: typeof L.peak) => xs.reduce<(typeof L.peak)[number] | undefined>((b, p) => (!b || p.best_gops > b.best_gops ? p : b), undefined);
  const fp32 = best(L.peak.filter((p) => !p.name.startsWith('int8')));
  const int8 = best(L.peak.filter((p) => p.name.startsWith('int8')));
  const proj = L.peak.find((p) => p.name.startsWith('LSTM input projection'));
  const rec = L.peak.find((p) => p.name.startsWith('LSTM recurrence step:'));
  return L.costs.map((c) => {
    const row = r.models?.find((m) => m.label === c.model && m.system === 'scorer');
    const mo = row?.model_only ?? (c.model === `${r.model.name} ${r.model.version}` ? r.systems['model-only'] : undefined);
    const peak = c.int8 ? int8 : fp32;
    const rate = mo?.msgs_per_s ?? NaN;
    const ortS = (mo?.inference_ms_per_1k ?? NaN) / 1e6;
    const achieved = (c.useful_ops_per_text * rate) / 1e9;
    const inOrt = c.useful_ops_per_text / ortS / 1e9;
    const out = {
      model: c.model,
      kind: c.kind,
      int8: c.int8,
      tokens: c.tokens_mean,
      padded_tokens: c.padded_tokens_mean,
      useful_mops: c.useful_ops_per_text / 1e6,
      padded_mops: c.padded_ops_per_text / 1e6,
      recurrent_share: c.recurrent_share,
      texts_per_s: rate,
      achieved_gops: achieved,
      in_ort_gops: inOrt,
      peak_name: peak?.name ?? '–',
      peak_gops: peak?.best_gops ?? NaN,
      ratio: achieved / (peak?.best_gops ?? NaN),
      factors: null as null | { ort_share: number; padding: number; shapes: number; other: number; predicted_gops: number },
    };
    if (c.lstm && !c.int8 && proj && rec && fp32 && mo) {
      const projTerm = c.terms.find((t) => t.what.startsWith('LSTM input projection'))!;
      const recTerm = c.terms.find((t) => t.what.startsWith('LSTM recurrence'))!;
      const projOps = projTerm.perToken * c.padded_tokens_mean;
      const recOps = recTerm.perToken * c.padded_tokens_mean;
      const tPred = projOps / (proj.best_gops * 1e9) + recOps / (rec.best_gops * 1e9);
      const predicted = (projOps + recOps) / tPred / 1e9;
      const measuredPadded = c.padded_ops_per_text / ortS / 1e9;
      out.factors = {
        ort_share: ortS * rate,
        padding: c.useful_ops_per_text / c.padded_ops_per_text,
        shapes: predicted / fp32.best_gops,
        other: measuredPadded / predicted,
        predicted_gops: predicted,
      };
    }
    return out;
  });
}

/** A model row's throughput: the scorer's scoring rate where it has one, else its outputs per second. */
export function modelRate(x: { scorer: SystemResult; system: string }): number {
  return x.system === 'scorer' && x.scorer.scored_per_s ? x.scorer.scored_per_s : x.scorer.msgs_per_s;
}

export function renderMarkdown(r: Results): string {
  const L: string[] = [];
  const m = r.machine;
  const d = r.defaults;
  L.push(`Run of ${r.date.slice(0, 16).replace('T', ' ')} UTC, ${r.duration_s} s, ${r.config.quick ? '**QUICK** (small N, indicative only), ' : ''}N = ${n0(r.config.n)} backlog messages, commit \`${r.commit.slice(0, 12)}\`${r.commit_dirty ? ' (libs/, services/, models/ or test/bench/ had uncommitted changes)' : ''}.`);
  L.push(`Machine: ${m.nproc} CPUs (${m.cpu_model}), ${m.mem_gib} GiB, Node ${m.node}; broker: ${m.broker}, on the same machine${typeof r.config.system_cpus === 'string' ? ` (systems under test on CPU ${r.config.system_cpus}, the broker and this harness on the others: BENCH_SYSTEM_CPUS)` : ''}. Load average at start: ${m.load_at_start}; at end: ${m.load_at_end ?? '–'}.`);
  L.push(`Model: ${r.model.name} ${r.model.version} (${r.model.labels.join('/')}). Sample: ${n0(r.sample.tweets)} tweets + ${n0(r.sample.reviews)} review sentences, median ${r.sample.chars_p50} chars (p90 ${r.sample.chars_p90}), ${r.sample.words_mean} words on average, ${r.sample.mean_text_bytes} bytes of text per message.`);
  if (d) L.push(`Scorer defaults in this run: KAFKA_CLIENT=${d.kafka_client}, PRODUCER_COMPRESSION=${d.producer_compression}, BATCH_MAX_SIZE=${d.batch_max_size}.`);
  L.push('');
  L.push('### Targets');
  L.push('');
  L.push('| target | measured | met |');
  L.push('|---|---:|:---:|');
  for (const t of r.targets) L.push(`| ${t.name} | ${t.name.includes('RSS') ? `${n0(t.measured)} MB` : t.name.includes(' ms') ? `${n0(t.measured)} ms` : `${n2(t.measured)} x`} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`);
  L.push('');
  if (Object.keys(r.systems).length > 0) {
    L.push('### Systems (drain of the same backlog)');
    L.push('');
    L.push('| system | msgs/s | texts scored/s (its counter) | CPU s / 1k msgs (system) | broker CPU s / 1k | peak RSS MB | records in flight (max) | mean batch | measured over | other load (cores) | held-out accuracy | what it is |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|');
    for (const name of ORDER) {
      const s = r.systems[name];
      if (!s) continue;
      const over = `${n0(s.outputs)} msgs, ${n1(s.window_s)} s${s.capped ? ` (capped: ${s.capped})` : ''}`;
      L.push(`| ${name} | **${n0(s.msgs_per_s)}** | ${n0(s.scored_per_s)} | ${n3(s.cpu_s_per_1k)} | ${n3(s.broker_cpu_s_per_1k)} | ${n0(s.rss_mb)} | ${n0(s.inflight_max)} | ${n1(s.mean_batch)} | ${over} | ${n2(s.other_processes_cores)} | ${s.accuracy !== undefined ? pc(s.accuracy) : ''} | ${WHAT[name] ?? ''} |`);
    }
    L.push('');
    L.push('Throughput = messages after the first output / (last output - first output), from the outputs\' broker append times (LogAppendTime), so startup is excluded. CPU = utime + stime of the system\'s process (all threads) over the same window, from /proc. Peak RSS = VmHWM. "Other load" = cores kept busy by processes other than the system, the broker and the harness (other work on the machine; ~0 on a quiet machine).');
    L.push('');
    L.push(`Ratios: scorer / model-only = **${n2(r.ratios.scorer_over_model_only)}**, scorer / naive = **${n1(r.ratios.scorer_over_naive)}**, scorer / passthrough = **${n2(r.ratios.scorer_over_passthrough)}**${r.ratios.model_only_over_model_only_b1 ? `; model-only at batch ${d?.batch_max_size ?? 256} / batch 1 = **${n1(r.ratios.model_only_over_model_only_b1)}** (what batching wins inside the model alone)` : ''}.`);
    L.push('');
  }

  if (r.models?.length) {
    L.push('### Models: one row each (accuracy against texts/s)');
    L.push('');
    L.push('| model | what it is | dev accuracy (model card) | held-out accuracy, this sample | n | scorer texts/s | scorer msgs/s (outputs) | model-only texts/s | scorer CPU s / 1k | scorer peak RSS MB | measured over | from |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
    for (const x of r.models) {
      const over = `${n0(x.scorer.outputs)} msgs, ${n1(x.scorer.window_s)} s${x.scorer.capped ? ' (capped)' : ''}`;
      L.push(`| ${x.label} | ${x.kind} | ${pc(x.dev_accuracy)} | ${pc(x.scorer.accuracy)} | ${n0(x.scorer.accuracy_n)} | **${n0(modelRate(x))}** | ${n0(x.scorer.msgs_per_s)} | ${n0(x.model_only.msgs_per_s)}${x.system === 'per-message' ? ' (batch 1)' : ''} | ${n3(x.scorer.cpu_s_per_1k)} | ${n0(x.scorer.rss_mb)} | ${over} | \`${x.source}\` |`);
    }
    L.push('');
    L.push('"Scorer texts/s" is the scorer\'s own count of texts scored per second (sentiment_batch_size_sum, polled twice a second) for the batched rows, and outputs per second for the one-message-at-a-time row: with a backlog the transport acknowledges a whole fetch response at once, so a slow model\'s outputs land in a few large produce requests and the output window alone would be too coarse. Dev accuracy is the model card\'s (config.json `dev_metrics`, the CLI on the full dev split of the model\'s dataset); the held-out column is measured here on the dev items that happen to be in this sample (few for capped rows). The "one message at a time" row is `test/bench/system.mjs per-message`: a kafkajs `eachMessage` consumer that tokenizes and calls ONNX Runtime once per text on its own thread and awaits one produce per event, the way a per-message transformers.js pipeline is used; its model-only column is the same model at batch 1.');
    L.push('');
  }

  if (r.clients?.length) {
    L.push('### Kafka clients (KAFKA_CLIENT)');
    L.push('');
    const rates = [...new Set(r.latency.map((l) => l.rate_fraction))].sort();
    L.push(`| client | drain msgs/s | CPU s / 1k | broker CPU s / 1k | peak RSS MB | main-thread GC ms / 1k | ${rates.map((f) => `p99 ms at ${Math.round(100 * f)} %: median (min–max)`).join(' | ')} | ${rates.map((f) => `p50 ms at ${Math.round(100 * f)} %`).join(' | ')} |`);
    L.push(`|---|---:|---:|---:|---:|---:|${rates.map(() => '---:').join('|')}|${rates.map(() => '---:').join('|')}|`);
    for (const c of r.clients) {
      const at = (f: number) => r.latency.filter((l) => l.client === c.client && l.rate_fraction === f);
      L.push(`| ${c.client}${c.default ? ' (default)' : ''} | **${n0(c.drain.msgs_per_s)}** | ${n3(c.drain.cpu_s_per_1k)} | ${n3(c.drain.broker_cpu_s_per_1k)} | ${n0(c.drain.rss_mb)} | ${n1(c.drain.gc?.ms_per_1k)} | ${rates.map((f) => range(spreadOf(at(f).map((l) => l.p99_ms)))).join(' | ')} | ${rates.map((f) => n0(spreadOf(at(f).map((l) => l.p50_ms)).median)).join(' | ')} |`);
    }
    L.push('');
    L.push(`Drains of the whole backlog; open-loop rates are the same absolute rates for both clients (fractions of the default client's drain), ${r.config.open_loop_repeats ?? 1} run(s) each, interleaved.`);
    L.push('');
  }

  if (r.compression?.length) {
    L.push('### Output compression (PRODUCER_COMPRESSION)');
    L.push('');
    L.push('| client | codec | msgs/s | scorer CPU s / 1k | broker CPU s / 1k | scorer + broker CPU s / 1k | bytes per event on the broker | vs none | measured over | other load (cores) |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---|---:|');
    for (const c of r.compression) {
      const none = r.compression.find((x) => x.client === c.client && x.codec === 'none');
      L.push(`| ${c.client} | ${c.codec}${c.default ? ' (default)' : ''} | ${n0(c.msgs_per_s)} | ${n3(c.cpu_s_per_1k)} | ${n3(c.broker_cpu_s_per_1k)} | ${n3(c.cpu_s_per_1k + c.broker_cpu_s_per_1k)} | ${n1(c.broker_bytes_per_msg)} | ${none?.broker_bytes_per_msg ? `${n2((c.broker_bytes_per_msg ?? NaN) / none.broker_bytes_per_msg)} x` : '–'} | ${n0(c.outputs)} msgs, ${n1(c.window_s)} s | ${n2(c.other_processes_cores)} |`);
    }
    L.push('');
    L.push("Bytes on the broker = the output topic's log segment files (record batches as stored, headers included) / events. CPU over the drain window from /proc, per 1,000 events.");
    L.push('');
  }
  if (r.codecs?.length) {
    L.push('### The codecs alone, on the scorer\'s events (~150 KB per record batch, one thread)');
    L.push('');
    L.push('| codec | compress µs / event | decompress µs / event | bytes / event (JSON values only) | of the raw size |');
    L.push('|---|---:|---:|---:|---:|');
    for (const c of r.codecs) L.push(`| ${c.codec} | ${n2(c.compress_us_per_event)} | ${n2(c.decompress_us_per_event)} | ${n1(c.bytes_per_event)} | ${pc(c.ratio)} |`);
    L.push('');
    L.push('@platformatic/kafka\'s implementations (zlib for gzip and zstd, WebAssembly for snappy and lz4), which both clients use (kafkajs\'s own gzip is the same zlib). Compress runs in the scorer for every event; decompress in every consumer of the events, the broker included when it validates a batch.');
    L.push('');
  }

  const lim = limitRows(r);
  if (r.limit && lim.length) {
    L.push(`### Distance to the limit (ONNX Runtime, ${r.limit.threads}; ${n0(r.limit.texts)} texts tokenized)`);
    L.push('');
    L.push('| GEMM in ONNX Runtime (same session options as the worker) | best G/s | median G/s | µs per run | CPU cores busy |');
    L.push('|---|---:|---:|---:|---:|');
    for (const p of r.limit.peak) L.push(`| ${p.name} | **${n1(p.best_gops)}** | ${n1(p.median_gops)} | ${n0(p.us_per_run)} | ${n2(p.cpu_cores)} |`);
    L.push('');
    L.push('| model | tokens / text (padded) | MFLOP / text: real tokens (padded) | in the recurrence | model-only texts/s | achieved GFLOP/s | GFLOP/s inside ORT runs | peak it is held to (best GEMM of its kind) | achieved / peak |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---|---:|');
    for (const x of lim) {
      L.push(`| ${x.model} (${x.kind}) | ${n1(x.tokens)} (${n1(x.padded_tokens)}) | ${n2(x.useful_mops)} (${n2(x.padded_mops)})${x.int8 ? ' int8 ops' : ''} | ${x.recurrent_share > 0 ? pc(x.recurrent_share) : '–'} | ${n0(x.texts_per_s)} | ${n2(x.achieved_gops)} | ${n2(x.in_ort_gops)} | ${x.peak_name.split(' (')[0]} (${n1(x.peak_gops)}) | **${pc(x.ratio)}** |`);
    }
    L.push('');
    const f = lim.find((x) => x.factors)?.factors;
    const fx = lim.find((x) => x.factors);
    if (f && fx) {
      L.push(`Where the rest goes for ${fx.model} (the factors multiply to achieved / peak = ${pc(fx.ratio)}):`);
      L.push('');
      L.push('| factor | value | what it is |');
      L.push('|---|---:|---|');
      L.push(`| time in ONNX Runtime | ${pc(f.ort_share)} | share of model-only wall time inside \`session.run\`; the rest is the worker protocol and tokenization not hidden behind the call before (the tokenizer stage overlaps them) |`);
      L.push(`| padding | ${pc(f.padding)} | real tokens / tokens run: runs sorted by length, each of at most \`SUB_BATCH\` rows and padded tokens (libs/model/src/encode.ts: 64 and 512 since 2026-12-04, 1,024 tokens before) and padded to its longest |`);
      L.push(`| shapes: small matrices and the recurrence | ${pc(f.shapes)} | what the LSTM's own GEMM shapes reach (${n1(f.predicted_gops)} GFLOP/s from the two shape rows above) / the peak |`);
      L.push(`| everything else in the LSTM kernel | ${pc(f.other)} | measured rate on padded tokens / the shape prediction: gate activations, per-step threading, reversal, embedding gathers, pooling |`);
      L.push('');
    }
  }

  const acc = ['scorer', 'afinn', 'vader'].filter((k) => r.systems[k]?.accuracy !== undefined);
  if (acc.length > 0) {
    L.push('### Accuracy on the same sample');
    L.push('');
    L.push('| system | held-out items (dev splits) | n | all items with a gold label in the model\'s labels | n | agreement with scorer |');
    L.push('|---|---:|---:|---:|---:|---:|');
    for (const k of acc) {
      const s = r.systems[k]!;
      L.push(`| ${k} | ${pc(s.accuracy)} | ${n0(s.accuracy_n)} | ${pc(s.accuracy_all_labeled)} | ${n0(s.accuracy_all_labeled_n)} | ${s.agreement_with_scorer !== undefined ? pc(s.agreement_with_scorer) : ''} |`);
    }
    L.push('');
    L.push('Counted per message (a text drawn twice counts twice), from the events each system published. "Held-out" counts only SST-2 dev and TweetEval dev items (not used to train the model); the "all" column also counts train-split items, which flatter the model. Neutral tweets are left out for a binary model.');
    L.push('');
  }
  if (r.latency.length > 0) {
    const warmRun = Number(r.config.open_loop_warmup_run_s ?? 0);
    L.push(`### Open loop: end-to-end latency of the scorer (${r.config.open_loop_s} s per run, first ${r.config.open_loop_warmup_s} s left out; every run${warmRun > 0 ? `, after a ${warmRun} s warm-up run not recorded` : ''})`);
    L.push('');
    L.push('| client | run | offered | msgs/s offered | achieved | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms | p99 to broker append ms | mean batch | tokenize + inference ms / batch | scorer CPU s / 1k | cores busy: scorer + broker + harness | scorer GC ms/s | scorer loop delay max ms | scorer main thread ms/s: runs / waits for a core | harness loop delay p99 ms | other load (cores) | load avg at end |');
    L.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|');
    for (const l of r.latency) {
      L.push(`| ${l.client ?? '–'} | ${l.repeat ?? 0} | ${Math.round(100 * l.rate_fraction)} % | ${n0(l.offered_msgs_per_s)} | ${n0(l.achieved_msgs_per_s)} | ${n0(l.p50_ms)} | ${n0(l.p95_ms)} | **${n0(l.p99_ms)}** | ${n0(l.p999_ms)} | ${n0(l.max_ms)} | ${n0(l.broker_p99_ms)} | ${n1(l.mean_batch)} | ${n1(l.batch_tokenize_ms)} + ${n1(l.batch_inference_ms)} | ${n3(l.cpu_s_per_1k)} | ${coresBusy(l)} | ${n1(l.scorer_gc_ms_per_s)} | ${n0(l.scorer_loop_max_ms)} | ${l.scorer_main_wait_ms_per_s !== undefined ? `${n0(l.scorer_main_run_ms_per_s)} / ${n0(l.scorer_main_wait_ms_per_s)}` : '–'} | ${n1(l.harness_loop_delay_p99_ms)} | ${n2(l.other_processes_cores)} | ${n2(l.load_end)} |`);
    }
    L.push('');
    L.push("Latency = arrival at a downstream consumer (in the harness) minus the input record's timestamp (set when the harness sent it).");
    L.push('');
    if (r.latency.some((l) => l.tail)) {
      L.push('#### What the slowest 1 % lived through');
      L.push('');
      L.push('For each run: of the messages at or above its p99, the share whose life (send to arrival) overlapped a broker G1 pause of 10 ms or more, a scorer main-thread GC pause of 10 ms or more, or a second in which the scorer\'s event loop was delayed 20 ms or more; in brackets the same share among all messages of the run (the base rate: a stall that explains the tail shows a much larger share among the slow ones).');
      L.push('');
      L.push('| client | run | offered | p99 ms | broker GC pauses >= 10 ms (max ms) | slow through broker GC | scorer GC pauses >= 10 ms (max ms) | slow through scorer GC | slow through scorer loop stall | slow through none |');
      L.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const l of r.latency) {
        const t = l.tail;
        if (!t) continue;
        const sh = (x?: TailShare | null) => (x ? `${pc(x.slow)} (${pc(x.all)})` : '–');
        L.push(`| ${l.client} | ${l.repeat} | ${Math.round(100 * l.rate_fraction)} % | ${n0(t.p99_ms)} | ${t.broker_gc ? `${t.broker_gc.pauses} (${n0(t.broker_gc.max_ms)})` : 'no GC log'} | ${sh(t.broker_gc)} | ${t.scorer_gc.pauses} (${n0(t.scorer_gc.max_ms)}) | ${sh(t.scorer_gc)} | ${sh(t.scorer_loop)} | ${pc(t.none_slow)} |`);
      }
      L.push('');
    }
  }
  if (r.sweep.length > 0) {
    L.push('### Sweep: BATCH_MAX_SIZE x ORT sessions and intra-op threads (scorer drain, capped count)');
    L.push('');
    // Runs before INFERENCE_SESSIONS existed ran one session.
    const engine = (x: Record<string, unknown>) => `${Number(x.inference_sessions ?? 1)}x${Number(x.intra_op_threads)}`;
    const engines = [...new Set(r.sweep.map(engine))];
    const sizes = [...new Set(r.sweep.map((x) => x.batch_max_size as number))];
    L.push(`| BATCH_MAX_SIZE | ${engines.map((e) => `msgs/s, sessions x threads ${e} | CPU s/1k | mean batch`).join(' | ')} |`);
    L.push(`|---:|${engines.map(() => '---:|---:|---:').join('|')}|`);
    for (const b of sizes) {
      const cells = engines.map((e) => {
        const x = r.sweep.find((y) => y.batch_max_size === b && engine(y) === e);
        return x ? `${n0(x.msgs_per_s)} | ${n3(x.cpu_s_per_1k)} | ${n1(x.mean_batch)}` : '– | – | –';
      });
      L.push(`| ${b} | ${cells.join(' | ')} |`);
    }
    L.push('');
  }
  if (r.paired?.length) {
    L.push(`### Paired rounds: scorer, model-only, naive, passthrough back to back (scorer and model-only alternating; ${n0(Number(r.config.paired_cap))} / ${n0(Number(r.config.paired_cap))} messages / ${n0(Number(r.config.naive_s))} s)`);
    L.push('');
    const floor = r.paired.find((p) => p.cpu)?.cpu?.floor;
    L.push(
      `| round | scorer msgs/s | model-only msgs/s | naive msgs/s | scorer / model-only | from CPU per message | ceiling on these cores | CPU s / 1k: model-only / broker and harness beside the scorer | pipeline CPU s / 1k: spent / passthrough's whole / budget at ${floor ?? '–'} | cores busy: scorer / model-only | scorer / naive | other load (cores) scorer / model-only / naive |`,
    );
    L.push('|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---|');
    for (const p of r.paired) {
      const c = p.cpu;
      const cpu = c
        ? [n2(c.predicted), n2(c.ceiling), `${n3(c.model_only_cpu_s_per_1k)} / ${n3(c.beside_scorer_cpu_s_per_1k)}`, `${n3(c.pipeline_cpu_s_per_1k)} / ${n3(p.passthrough_cpu_s_per_1k)} / ${n3(c.pipeline_budget_s_per_1k)}`, `${n2(c.scorer_cores)} / ${n2(c.model_only_cores)}`]
        : ['–', '–', '–', '–', '–'];
      L.push(`| ${p.round} | ${n0(p.scorer)} | ${n0(p.model_only)} | ${n0(p.naive)} | ${n2(p.scorer_over_model_only)} | ${cpu.join(' | ')} | ${n1(p.scorer_over_naive)} | ${p.other_load_cores.map(n2).join(' / ')} |`);
    }
    if (r.paired_median) L.push(`| median | | | | **${n2(r.paired_median.scorer_over_model_only)}** | | ${n2(r.paired_median.ceiling)} | | ${n3(r.paired_median.pipeline_cpu_s_per_1k)} / – / ${n3(r.paired_median.pipeline_budget_s_per_1k)} | | **${n1(r.paired_median.scorer_over_naive)}** | |`);
    L.push('');
    L.push(
      "From CPU per message: model-only's CPU per text over the scorer's with the broker and the harness beside it, the ratio when both keep the same cores busy. Pipeline: the scorer's CPU per message beyond model-only's (Kafka client, JSON, hand-over to the worker, their GC); passthrough: a drain of the same messages through the Kafka client and JSON with no model, the least a pipeline costs here; budget: what the pipeline may cost for the scorer to drain that fraction of model-only's rate on these cores. Ceiling: the ratio with a pipeline that cost nothing and every core busy (`test/bench/lib/ratio.ts`).",
    );
    L.push('');
  }
  const memRows: { name: string; s: MemoryStats }[] = [];
  if (r.systems.scorer?.memory) memRows.push({ name: 'scorer, full drain', s: r.systems.scorer.memory });
  for (const x of r.memory ?? []) if (x.stats) memRows.push({ name: x.variant, s: x.stats });
  if (r.memory?.length) {
    L.push(`### Scorer peak RSS under memory-bounding settings (drain of ${n0(r.memory[0]!.outputs)} messages each)`);
    L.push('');
    L.push('| settings | peak RSS MB | msgs/s | CPU s / 1k | main-thread GC ms / 1k |');
    L.push('|---|---:|---:|---:|---:|');
    for (const x of r.memory) L.push(`| ${x.variant}${x.round ? ` (round ${x.round})` : ''} | ${n0(x.rss_mb)} | ${n0(x.msgs_per_s)} | ${n3(x.cpu_s_per_1k)} | ${n1(x.gc_ms_per_1k)} |`);
    L.push('');
    const byVariant = new Map<string, typeof r.memory>();
    for (const x of r.memory) byVariant.set(x.variant, [...(byVariant.get(x.variant) ?? []), x]);
    if ([...byVariant.values()].some((xs) => xs.length > 1)) {
      L.push('Medians over the rounds (range of peak RSS in brackets):');
      L.push('');
      L.push('| settings | rounds | peak RSS MB | msgs/s | CPU s / 1k |');
      L.push('|---|---:|---:|---:|---:|');
      for (const [variant, xs] of byVariant) {
        const rss = spread(xs.map((x) => x.rss_mb));
        L.push(`| ${variant} | ${xs.length} | **${n0(rss.median)}** (${n0(rss.min)}-${n0(rss.max)}) | ${n0(spread(xs.map((x) => x.msgs_per_s)).median)} | ${n3(spread(xs.map((x) => x.cpu_s_per_1k)).median)} |`);
      }
      L.push('');
    }
  }
  if (memRows.length) {
    L.push('### Where the scorer\'s memory is at its peak (MB, the sample with the highest RSS)');
    L.push('');
    L.push('| run | RSS | file-backed (code: node, ONNX Runtime, ...) | main V8 heap (used) | worker V8 heap (used) | main buffers (Kafka records, JSON) | worker external (tensors) | native rest: ORT session + arena, malloc, stacks | threads |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const { name, s } of memRows) {
      const native = s.rss_anon_mb - s.main_heap_total_mb - (s.worker_heap_total_mb ?? 0) - s.main_external_mb - (s.worker_external_mb ?? 0);
      L.push(`| ${name} | **${n0(s.rss_mb)}** | ${n0(s.rss_file_mb)} | ${n0(s.main_heap_total_mb)} (${n0(s.main_heap_used_mb)}) | ${n0(s.worker_heap_total_mb)} (${n0(s.worker_heap_used_mb)}) | ${n0(s.main_external_mb)} | ${n0(s.worker_external_mb)} | ${n0(native)} | ${s.threads} |`);
    }
    L.push('');
    L.push('Heaps are committed sizes (used in brackets). "Native rest" = anonymous RSS minus both V8 heaps and their external memory: ONNX Runtime\'s weights, arena and thread stacks, glibc malloc\'s arenas. The sample is taken every 250 ms, so its RSS can sit a little under VmHWM.');
    L.push('');
  }
  if (r.memory_steps) {
    L.push(`### The inference side, step by step (\`node test/bench/memory.mjs ${r.memory_steps.variant} ${r.memory_steps.model.split(' ')[0]}\`)`);
    L.push('');
    L.push('| step | RSS MB | + MB | peak MB |');
    L.push('|---|---:|---:|---:|');
    for (const x of r.memory_steps.steps) L.push(`| ${x.step} | ${x.rss_mb} | ${x.delta_mb} | ${x.peak_mb} |`);
    L.push('');
  }
  const sc = r.systems.scorer;
  const pt = r.systems.passthrough;
  const mo = r.systems['model-only'];
  if (sc && pt && mo) {
    L.push('### Where the scorer\'s CPU goes (per 1,000 messages)');
    L.push('');
    L.push('| | CPU s / 1k |');
    L.push('|---|---:|');
    L.push(`| scorer process, total | ${n3(sc.cpu_s_per_1k)} |`);
    L.push(`| of which tokenization (worker, from sentiment_tokenize_duration_seconds) | ${n3((sc.tokenize_ms_per_1k ?? NaN) / 1000)} |`);
    L.push(`| of which inference (wall time of ORT run, from sentiment_inference_duration_seconds) | ${n3((sc.inference_ms_per_1k ?? NaN) / 1000)} |`);
    L.push(`| of which main-thread GC (wall time of its pauses) | ${n3((sc.gc?.ms_per_1k ?? NaN) / 1000)} |`);
    L.push(`| passthrough process (Kafka client, JSON decode/encode, pipeline; no model) | ${n3(pt.cpu_s_per_1k)} |`);
    L.push(`| model-only process (tokenizer + ORT, no Kafka) | ${n3(mo.cpu_s_per_1k)} |`);
    L.push(`| broker during the scorer drain | ${n3(sc.broker_cpu_s_per_1k)} |`);
    L.push(`| benchmark harness during the scorer drain (polling only) | ${n3(sc.harness_cpu_s_per_1k)} |`);
    L.push('');
  }
  if (r.profile) {
    L.push(`### CPU profile of the scorer (node --cpu-prof, ${n0(r.profile.messages)} messages${r.profile.window_s ? ` in ${n1(r.profile.window_s)} s after the first output; startup left out` : ''})`);
    L.push('');
    for (const t of r.profile.threads) {
      L.push(`**${t.thread}** thread: ${n0(t.busy_ms)} ms busy of ${n0(t.sampled_ms)} ms sampled.`);
      L.push('');
      L.push('| category | ms | % of busy | ms / 1k msgs |');
      L.push('|---|---:|---:|---:|');
      for (const [k, v] of Object.entries(t.categories).sort((a, b) => b[1] - a[1])) {
        L.push(`| ${k} | ${n0(v)} | ${n1((100 * v) / t.busy_ms)} | ${n1(t.per_1k_ms?.[k])} |`);
      }
      L.push('');
      L.push('| top self time | where | ms | % |');
      L.push('|---|---|---:|---:|');
      for (const f of t.top.slice(0, 8)) L.push(`| \`${f.function}\` | ${f.where} | ${n0(f.self_ms)} | ${n1(f.pct_busy)} |`);
      L.push('');
    }
  }
  const al = r.allocations;
  if (al) {
    L.push(`### What the scorer's main thread allocates (${n0(al.messages)} messages, from ready to stop; sampled every 4 KB, collected objects included)`);
    L.push('');
    L.push(`**${n0(al.bytes_per_msg)} bytes per message.** The bytes of a V8 builtin (\`Object.entries\`, \`new Map\`) or of Node's own code (\`Buffer.from\`) count for the package that called it.`);
    L.push('');
    L.push('| category | bytes / msg | % |');
    L.push('|---|---:|---:|');
    for (const [k, v] of Object.entries(al.categories).sort((a, b) => b[1] - a[1])) L.push(`| ${k} | ${n0(v)} | ${n1((100 * v) / al.bytes_per_msg)} |`);
    L.push('');
    L.push('| top allocating function | where | bytes / msg | % |');
    L.push('|---|---|---:|---:|');
    for (const f of al.top.slice(0, 10)) L.push(`| \`${f.function}\` | ${f.where} | ${n0(f.bytes_per_msg)} | ${n1(f.pct)} |`);
    L.push('');
  }
  return `${L.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const docs = args.includes('--docs');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const file = args.find((a) => !a.startsWith('--')) ?? `${root}test/bench/results/latest.json`;
  const md = renderMarkdown(JSON.parse(readFileSync(file, 'utf8')) as Results);
  process.stdout.write(md);
  if (docs) {
    const path = `${root}docs/performance.md`;
    const text = readFileSync(path, 'utf8');
    const begin = '<!-- bench:begin -->';
    const end = '<!-- bench:end -->';
    const a = text.indexOf(begin);
    const b = text.indexOf(end);
    if (a < 0 || b < a) throw new Error(`${path}: no ${begin} ... ${end} block`);
    writeFileSync(path, `${text.slice(0, a + begin.length)}\n${md}${text.slice(b)}`);
    process.stderr.write(`updated ${path}\n`);
  }
}
