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
import type { ThreadProfile } from './profile.js';

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
}

/** One offered rate of the open-loop phase. */
export interface LatencyResult {
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
  other_processes_cores: number;
  mean_batch?: number;
  /** Mean worker time per batch (the scorer's histograms), to set beside the latency. */
  batch_tokenize_ms?: number;
  batch_inference_ms?: number;
  harness_loop_delay_p99_ms: number;
  /** 101 quantiles (0..100 %) of the consumer-side latency, for the plots. */
  quantiles_ms: number[];
}

export interface Results {
  date: string;
  duration_s: number;
  machine: { nproc: number; cpu_model: string; mem_gib: number; node: string; broker: string; load_at_start: string };
  commit: string;
  commit_dirty: boolean;
  model: { name: string; version: string; labels: string[] };
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
  }[];
  paired_median?: { scorer_over_model_only: number; scorer_over_naive: number } | null;
  memory: { variant: string; rss_mb: number; msgs_per_s: number; cpu_s_per_1k: number; outputs: number }[];
  profile: { messages: number; window_s: number | null; threads: ThreadProfile[] } | null;
  targets: { name: string; measured: number | null; limit: number; met: boolean | null }[];
}

const n0 = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const n1 = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(1));
const n2 = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));
const n3 = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(3));
const pc = (x: Num) => (x === null || x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)} %`);

const ORDER = ['scorer', 'model-only', 'passthrough', 'naive', 'model-only-b1', 'afinn', 'vader'];
const WHAT: Record<string, string> = {
  scorer: 'the service, default settings (BATCH_MAX_SIZE=256, BATCH_MAX_WAIT_MS=5, INTRA_OP_THREADS=2)',
  'model-only': "tokenizer + ONNX Runtime via loadModel().predict, batches of 256, no Kafka, ORT's default threads (one per core)",
  passthrough: 'same pipeline, predictor copies a constant result (Kafka + JSON bound)',
  naive: 'the scorer with BATCH_MAX_SIZE=1',
  'model-only-b1': 'model-only with batches of 1: what batching wins inside the model',
  afinn: 'same pipeline, AFINN lexicon (`sentiment`), CLI label mapping',
  vader: 'same pipeline, VADER lexicon (`vader-sentiment`), CLI label mapping',
};

export function renderMarkdown(r: Results): string {
  const L: string[] = [];
  const m = r.machine;
  L.push(`Run of ${r.date.slice(0, 16).replace('T', ' ')} UTC, ${r.duration_s} s, ${r.config.quick ? '**QUICK** (small N, indicative only), ' : ''}N = ${n0(r.config.n)} backlog messages, commit \`${r.commit.slice(0, 12)}\`${r.commit_dirty ? ' (working tree had uncommitted changes)' : ''}.`);
  L.push(`Machine: ${m.nproc} CPUs (${m.cpu_model}), ${m.mem_gib} GiB, Node ${m.node}; broker: ${m.broker}, on the same machine. Load average at start: ${m.load_at_start}.`);
  L.push(`Model: ${r.model.name} ${r.model.version} (${r.model.labels.join('/')}). Sample: ${n0(r.sample.tweets)} tweets + ${n0(r.sample.reviews)} review sentences, median ${r.sample.chars_p50} chars (p90 ${r.sample.chars_p90}), ${r.sample.words_mean} words on average, ${r.sample.mean_text_bytes} bytes of text per message.`);
  L.push('');
  L.push('### Targets');
  L.push('');
  L.push('| target | measured | met |');
  L.push('|---|---:|:---:|');
  for (const t of r.targets) L.push(`| ${t.name} | ${t.name.includes('RSS') ? `${n0(t.measured)} MB` : t.name.includes('ms') ? `${n0(t.measured)} ms` : `${n2(t.measured)} x`} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`);
  L.push('');
  L.push('### Systems (drain of the same backlog)');
  L.push('');
  L.push('| system | msgs/s | CPU s / 1k msgs (system) | broker CPU s / 1k | peak RSS MB | mean batch | measured over | other load (cores) | held-out accuracy | what it is |');
  L.push('|---|---:|---:|---:|---:|---:|---|---:|---:|---|');
  for (const name of ORDER) {
    const s = r.systems[name];
    if (!s) continue;
    const over = `${n0(s.outputs)} msgs, ${n1(s.window_s)} s${s.capped ? ` (capped: ${s.capped})` : ''}`;
    L.push(`| ${name} | **${n0(s.msgs_per_s)}** | ${n3(s.cpu_s_per_1k)} | ${n3(s.broker_cpu_s_per_1k)} | ${n0(s.rss_mb)} | ${n1(s.mean_batch)} | ${over} | ${n2(s.other_processes_cores)} | ${s.accuracy !== undefined ? pc(s.accuracy) : ''} | ${WHAT[name] ?? ''} |`);
  }
  L.push('');
  L.push('Throughput = messages after the first output / (last output - first output), from the outputs\' broker append times (LogAppendTime), so startup is excluded. CPU = utime + stime of the system\'s process (all threads) over the same window, from /proc. Peak RSS = VmHWM. "Other load" = cores kept busy by processes other than the system, the broker and the harness (other work on the machine; ~0 on a quiet machine).');
  L.push('');
  L.push(`Ratios: scorer / model-only = **${n2(r.ratios.scorer_over_model_only)}**, scorer / naive = **${n1(r.ratios.scorer_over_naive)}**, scorer / passthrough = **${n2(r.ratios.scorer_over_passthrough)}**${r.ratios.model_only_over_model_only_b1 ? `; model-only at batch 256 / batch 1 = **${n1(r.ratios.model_only_over_model_only_b1)}** (what batching wins inside the model alone)` : ''}.`);
  L.push('');
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
    L.push(`### Open loop: end-to-end latency of the scorer (${r.config.open_loop_s} s per rate, first ${r.config.open_loop_warmup_s} s left out)`);
    L.push('');
    L.push('| offered | msgs/s offered | achieved | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms | p99 to broker append ms | mean batch | tokenize + inference ms / batch | scorer CPU s / 1k | harness loop delay p99 ms | other load (cores) |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const l of r.latency) {
      L.push(`| ${Math.round(100 * l.rate_fraction)} % of max | ${n0(l.offered_msgs_per_s)} | ${n0(l.achieved_msgs_per_s)} | ${n0(l.p50_ms)} | ${n0(l.p95_ms)} | **${n0(l.p99_ms)}** | ${n0(l.p999_ms)} | ${n0(l.max_ms)} | ${n0(l.broker_p99_ms)} | ${n1(l.mean_batch)} | ${n1(l.batch_tokenize_ms)} + ${n1(l.batch_inference_ms)} | ${n3(l.cpu_s_per_1k)} | ${n1(l.harness_loop_delay_p99_ms)} | ${n2(l.other_processes_cores)} |`);
    }
    L.push('');
    L.push("Latency = arrival at a downstream consumer (in the harness) minus the input record's timestamp (set when the harness sent it).");
    L.push('');
  }
  if (r.sweep.length > 0) {
    L.push('### Sweep: BATCH_MAX_SIZE x ORT intra-op threads (scorer drain, capped count)');
    L.push('');
    const threads = [...new Set(r.sweep.map((x) => x.intra_op_threads as number))];
    const sizes = [...new Set(r.sweep.map((x) => x.batch_max_size as number))];
    L.push(`| BATCH_MAX_SIZE | ${threads.map((t) => `msgs/s, ${t} thread${t > 1 ? 's' : ''} | CPU s/1k | mean batch`).join(' | ')} |`);
    L.push(`|---:|${threads.map(() => '---:|---:|---:').join('|')}|`);
    for (const b of sizes) {
      const cells = threads.map((t) => {
        const x = r.sweep.find((y) => y.batch_max_size === b && y.intra_op_threads === t);
        return x ? `${n0(x.msgs_per_s)} | ${n3(x.cpu_s_per_1k)} | ${n1(x.mean_batch)}` : '– | – | –';
      });
      L.push(`| ${b} | ${cells.join(' | ')} |`);
    }
    L.push('');
  }
  if (r.paired?.length) {
    L.push(`### Paired rounds: scorer, model-only, naive back to back (order alternating; ${n0(Number(r.config.paired_cap))} / ${n0(Number(r.config.paired_cap))} / ${n0(Number(r.config.paired_naive_cap))} messages)`);
    L.push('');
    L.push('| round | scorer msgs/s | model-only msgs/s | naive msgs/s | scorer / model-only | scorer / naive | other load (cores) scorer / model-only / naive |');
    L.push('|---:|---:|---:|---:|---:|---:|---|');
    for (const p of r.paired) {
      L.push(`| ${p.round} | ${n0(p.scorer)} | ${n0(p.model_only)} | ${n0(p.naive)} | ${n2(p.scorer_over_model_only)} | ${n1(p.scorer_over_naive)} | ${p.other_load_cores.map(n2).join(' / ')} |`);
    }
    if (r.paired_median) L.push(`| median | | | | **${n2(r.paired_median.scorer_over_model_only)}** | **${n1(r.paired_median.scorer_over_naive)}** | |`);
    L.push('');
  }
  if (r.memory?.length) {
    L.push(`### Scorer peak RSS under memory-bounding settings (drain of ${n0(r.memory[0]!.outputs)} messages each)`);
    L.push('');
    L.push('| settings | peak RSS MB | msgs/s | CPU s / 1k |');
    L.push('|---|---:|---:|---:|');
    for (const x of r.memory) L.push(`| ${x.variant} | ${n0(x.rss_mb)} | ${n0(x.msgs_per_s)} | ${n3(x.cpu_s_per_1k)} |`);
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
