// A real Prometheus server for integration tests: Debian's /usr/bin/prometheus on a free port, with
// a temporary data directory and a generated config, queried over its HTTP API like Grafana does.
// The binary is installed by deploy/prometheus/install.sh (make test-integration runs it), never
// here: a test that installs packages would be slow, need root, and hide a missing prerequisite.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './scorer.js';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface PrometheusOptions {
  /** `host:port` of each target, scraped at `/metrics`. */
  targets: string[];
  /** The scrape job's name (the `job` label). Default `sentiment-stream`, as in deploy/prometheus. */
  job?: string;
  /** Scrape and rule-evaluation interval in seconds. Default 1. */
  intervalSeconds?: number;
  /** Rule files (absolute paths) to load, e.g. deploy/prometheus/rules/*.yml. */
  ruleFiles?: string[];
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusProcess {
  readonly url: string;
  /** Instant query; rejects when Prometheus rejects the PromQL (the message says why). */
  query(promql: string): Promise<Sample[]>;
  /** Polls `promql` until `accept(samples)` holds; on timeout rejects with the last result. */
  waitFor(promql: string, accept: (samples: Sample[]) => boolean, timeoutMs?: number): Promise<Sample[]>;
  /** Everything the server logged, for failure messages. */
  output(): string;
  /** SIGTERM (SIGKILL after 10 s), then removes the data directory. */
  stop(): Promise<void>;
}

/** The sum of the samples' values, or undefined for an empty result (so 0 and "no data" differ). */
export function total(samples: Sample[]): number | undefined {
  return samples.length === 0 ? undefined : samples.reduce((sum, s) => sum + s.value, 0);
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusProcess> {
  if (!existsSync(PROMETHEUS_BIN)) {
    throw new Error(`Prometheus is not installed at ${PROMETHEUS_BIN}: run \`bash deploy/prometheus/install.sh\` (make test-integration does), or set PROMETHEUS_BIN`);
  }
  const interval = `${options.intervalSeconds ?? 1}s`;
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'));
  // JSON is YAML, so the config needs no YAML library.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: [{ job_name: options.job ?? 'sentiment-stream', static_configs: [{ targets: options.targets }] }],
  };
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  // /-/ready answers 200 once the TSDB is open and the rule files loaded (a bad rule file exits instead).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gone) {
      await stop();
      throw new Error(`prometheus exited before it was ready:\n${out}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const query = async (promql: string): Promise<Sample[]> => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] | [number, string] };
    };
    if (body.status !== 'success' || !body.data) throw new Error(`PromQL rejected: ${promql}: ${body.error ?? res.status}`);
    if (body.data.resultType === 'scalar') {
      const [, v] = body.data.result as [number, string];
      return [{ metric: {}, value: Number(v) }];
    }
    return (body.data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };

  return {
    url,
    query,
    async waitFor(promql, accept, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      let last: Sample[] = [];
      while (Date.now() < until) {
        last = await query(promql);
        if (accept(last)) return last;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`${promql}: condition not met within ${timeoutMs} ms; last result ${JSON.stringify(last)}`);
    },
    output: () => out,
    stop,
  };
}

/** Names Prometheus makes itself (per target, or for alerts), which no exporter's page contains. */
export const SYNTHETIC_METRICS = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added', 'ALERTS', 'ALERTS_FOR_STATE']);

const NOT_NAMES = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'Inf', 'NaN']);

/**
 * Metric names a PromQL expression selects. Strings, label matchers, range windows, grouping label
 * lists and Grafana variables are removed first; what is left that is an identifier and not
 * followed by `(` (a function or aggregation) or a keyword is a metric name. Enough for the
 * expressions this repository writes; not a full PromQL parser.
 */
export function metricNames(promql: string): string[] {
  const stripped = promql
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = stripped[m.index - 1] ?? ' ';
    if (/[0-9.]/.test(before)) continue; // exponent or duration unit of a number: 1e3, 5m
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(') || NOT_NAMES.has(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}

/**
 * Sample names each metric family on a page can produce, from its `# TYPE` lines: a histogram
 * `x` gives `x_bucket`, `x_sum` and `x_count`; a summary `x`, `x_sum` and `x_count`.
 */
export function exposedNames(page: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of page.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name! + s);
  }
  return names;
}
