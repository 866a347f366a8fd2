// The metrics sidecar as it runs in a pod: the built CLI `sidecar` beside the real scorer, on the
// real broker, scraped by a real Prometheus (Debian's binary; deploy/prometheus/install.sh) that
// also loads deploy/prometheus/rules. What Prometheus stores is what dashboards and alerts see.
//
// The first describe block is one story in order (before the scorer, with it, after it), because
// the expensive parts (scorer model load, Prometheus) are started once; vitest runs a file's tests
// in order.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, createProducer, createTopic, kafkaBrokers, uniqueGroup, uniqueTopic } from '../support/kafka.js';
import { SYNTHETIC_METRICS, exposedNames, metricNames, startPrometheus, total, type PrometheusProcess } from '../support/prometheus.js';
import { freePort, spawnCli, startScorer, type ScorerProcess } from '../support/scorer.js';
import { produceTexts } from '../support/streams.js';
import { eventually } from '../support/eventually.js';

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const RULE_FILES = [repo('deploy/prometheus/rules/recording.yml'), repo('deploy/prometheus/rules/alerts.yml')];
const DASHBOARD = repo('deploy/grafana/dashboards/sentiment-stream.json');
const JOB = 'sentiment-stream';

const kafka = createKafka('sidecar-suite');

/** The built CLI's `sidecar`, with its port; stopped by the caller. */
async function startSidecarProcess(env: Record<string, string>) {
  const port = await freePort();
  const proc = spawnCli(['sidecar'], { KAFKA_BROKERS: kafkaBrokers().join(','), METRICS_HOST: '127.0.0.1', METRICS_PORT: String(port), LOG_LEVEL: 'warn', ...env }, port);
  const base = `http://127.0.0.1:${port}`;
  // /healthz answers as soon as the process listens; it depends on neither the scorer nor Kafka.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`sidecar exited (${proc.child.exitCode}):\n${proc.output()}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`sidecar not listening after 30 s:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, port, base, get: (path: string) => fetch(`${base}${path}`) };
}


/** Grafana's variables, replaced by what they hold when the dashboard shows this suite's job. */
function asGrafanaWould(expr: string): string {
  return expr.replaceAll('$job', JOB).replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s').replaceAll('$__range', '5m');
}

interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

describe('metrics sidecar beside the scorer, scraped by Prometheus', () => {
  const GOOD = 200;
  const BAD = [Buffer.from('{"text": nope'), Buffer.from('[1,2]'), Buffer.from('{"id":"x"}'), Buffer.from('{"text":42}'), Buffer.from('{"text":"   "}'), null];
  const PARTITIONS = 3;
  const t = { input: uniqueTopic('sidecar-in'), output: uniqueTopic('sidecar-out'), dlq: uniqueTopic('sidecar-dlq'), group: uniqueGroup('sidecar') };
  let scorerPort: number;
  let scorer: ScorerProcess | undefined;
  let sidecar: Awaited<ReturnType<typeof startSidecarProcess>>;
  let prometheus: PrometheusProcess;
  const group = `consumergroup="${t.group}"`;

  /** One of each kind of record the scorer dead-letters (the scorer suite checks the codes). */
  async function sendBad() {
    const producer = createProducer(kafka);
    await producer.connect();
    await producer.send({ topic: t.input, messages: BAD.map((value, i) => ({ key: `bad-${i}`, value })) });
    await producer.disconnect();
  }

  beforeAll(async () => {
    await createTopic(kafka, t.input, PARTITIONS);
    await createTopic(kafka, t.output, PARTITIONS);
    await createTopic(kafka, t.dlq, 1);
    scorerPort = await freePort();
    sidecar = await startSidecarProcess({
      INPUT_TOPICS: t.input,
      GROUP_ID: t.group,
      SCORER_STATUS_URL: `http://127.0.0.1:${scorerPort}`,
      LAG_INTERVAL_MS: '1000',
    });
    prometheus = await startPrometheus({ job: JOB, targets: [`127.0.0.1:${sidecar.port}`], intervalSeconds: 1, ruleFiles: RULE_FILES });
  });

  afterAll(async () => {
    await scorer?.stop('SIGKILL');
    await sidecar?.proc.stop('SIGTERM');
    await prometheus?.stop();
  });

  it('before the scorer runs: lag counts every record from the low watermark, sentiment_scorer_up is 0, /readyz names the scorer', async () => {
    await produceTexts(kafka, t.input, GOOD);
    await sendBad();

    // The group has committed nothing yet, so the whole topic is lag.
    await prometheus.waitFor(`sum(kafka_consumergroup_lag_sum{${group}})`, (s) => total(s) === GOOD + BAD.length);
    const partitions = await prometheus.query(`kafka_consumergroup_lag{${group}}`);
    expect(partitions.map((s) => s.metric.partition).sort()).toEqual(['0', '1', '2']);
    expect(partitions.every((s) => s.metric.topic === t.input)).toBe(true);
    await prometheus.waitFor(`sum(kafka_topic_partition_current_offset{topic="${t.input}"})`, (s) => total(s) === GOOD + BAD.length);
    await prometheus.waitFor('sentiment_scorer_up', (s) => s.length === 1 && s[0]!.value === 0);

    const ready = await sidecar.get('/readyz');
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { status: string; reasons: string[] };
    expect(body.status).toBe('not ready');
    // Kafka answers, so the scorer is the only reason.
    expect(body.reasons).toHaveLength(1);
    expect(body.reasons[0]).toContain(`scorer unreachable at http://127.0.0.1:${scorerPort}/status`);
  });

  it("scorer running: its counts reach Prometheus through the sidecar, lag drains to 0, /readyz is 200", async () => {
    scorer = await startScorer({ INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group, STATUS_PORT: String(scorerPort) });
    await scorer.ready();

    await prometheus.waitFor('sum(sentiment_events_produced_total)', (s) => total(s) === GOOD, 90_000);
    await prometheus.waitFor('sum(sentiment_dead_letters_total)', (s) => total(s) === BAD.length);

    // A second wave while the counters' series exist: rate() only sees increases between two
    // samples of a series, so the first wave (which created the series) shows no rate at all.
    await produceTexts(kafka, t.input, GOOD, { idPrefix: 'wave2' });
    await sendBad();
    await prometheus.waitFor('sum(sentiment_events_produced_total)', (s) => total(s) === 2 * GOOD, 90_000);
    await prometheus.waitFor('sum(sentiment_dead_letters_total)', (s) => total(s) === 2 * BAD.length);
    await prometheus.waitFor(`sum(kafka_consumergroup_lag_sum{${group}})`, (s) => total(s) === 0);
    expect((await prometheus.query(`kafka_consumergroup_lag{${group}}`)).length).toBe(PARTITIONS);
    await prometheus.waitFor('sentiment_scorer_up', (s) => s.length === 1 && s[0]!.value === 1);

    // The recording rules evaluate over the scraped data (every second here).
    await prometheus.waitFor(`job_consumergroup:kafka_consumergroup_lag:sum{${group}}`, (s) => total(s) === 0);
    await prometheus.waitFor(`job:sentiment_dead_letters_per_consumed:ratio_rate5m{job="${JOB}"}`, (s) => s.length === 1 && s[0]!.value > 0);

    const ready = await eventually(async () => {
      const res = await sidecar.get('/readyz');
      expect(res.status, await res.clone().text()).toBe(200);
      return res;
    });
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('every metric the dashboard and the rules query is in a live scrape, and every dashboard query returns data', async () => {
    const res = await sidecar.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const page = await res.text();
    // One HELP/TYPE per family: the sidecar's own process metrics are prefixed, the scorer's are not.
    const types = page.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
    expect(page).toContain('sentiment_sidecar_process_cpu_seconds_total');
    expect(page).toMatch(/^process_cpu_seconds_total \d/m);

    // Rules as Prometheus loaded them (so this also proves both files loaded).
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { type: 'recording' | 'alerting'; name: string; query: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.filter((r) => r.type === 'alerting').length).toBeGreaterThanOrEqual(5);
    const recorded = new Set(loaded.filter((r) => r.type === 'recording').map((r) => r.name));
    const known = new Set([...exposedNames(page), ...recorded, ...SYNTHETIC_METRICS]);

    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => ({ where: `panel "${p.title}"`, expr: target.expr })));
    const variableQueries = dashboard.templating.list
      .filter((v) => v.type === 'query')
      .map((v) => ({ where: `variable $${v.name}`, expr: /label_values\(\s*([^,)]+)/.exec(v.definition ?? '')?.[1] ?? v.definition ?? '' }));
    const ruleQueries = loaded.map((r) => ({ where: `rule ${r.name}`, expr: r.query }));

    const used = [...queries, ...variableQueries, ...ruleQueries];
    expect(queries.length).toBeGreaterThanOrEqual(20);
    const missing = used.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !known.has(n)).map((n) => `${where}: ${n}`));
    expect(missing).toEqual([]);
    // Guard against an extractor that finds nothing (which would make the check above vacuous).
    expect(new Set(used.flatMap(({ expr }) => metricNames(expr))).size).toBeGreaterThanOrEqual(20);

    // Every family of ours on the page is documented, and every alert's runbook anchor exists.
    const docs = readFileSync(repo('docs/metrics.md'), 'utf8');
    const families = [...page.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!).filter((n) => /^(sentiment_|kafka_)/.test(n) && !n.startsWith('sentiment_sidecar_'));
    expect(families.length).toBeGreaterThanOrEqual(18);
    expect(families.filter((n) => !docs.includes(`\`${n}\``))).toEqual([]);
    const runbooks = loaded.filter((r) => r.type === 'alerting').map((r) => `### Runbook: ${r.name}`);
    expect(runbooks.filter((heading) => !docs.includes(heading))).toEqual([]);

    // Every panel query is valid PromQL for Prometheus and charts something for this job.
    const empty: string[] = [];
    for (const { where, expr } of queries) {
      if ((await prometheus.query(asGrafanaWould(expr))).length === 0) empty.push(`${where}: ${expr}`);
    }
    expect(empty).toEqual([]);
  });

  it('scorer stopped: /metrics still answers 200 with sentiment_scorer_up 0, /readyz is 503 naming the scorer', async () => {
    expect(await scorer!.stop('SIGTERM')).toBe(0);
    scorer = undefined;

    const res = await sidecar.get('/metrics');
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toMatch(/^sentiment_scorer_up 0$/m);
    expect(page).not.toContain('sentiment_events_produced_total');
    expect(page).toMatch(/^kafka_consumergroup_lag\{/m);

    const ready = await sidecar.get('/readyz');
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { reasons: string[] };
    expect(body.reasons.join('; ')).toContain('scorer unreachable');

    // Prometheus tells "scorer down" from "pod down": the target stays up.
    await prometheus.waitFor('sentiment_scorer_up', (s) => s.length === 1 && s[0]!.value === 0);
    expect((await prometheus.query(`up{job="${JOB}"}`))[0]?.value).toBe(1);
  });
});

describe('metrics sidecar on its own', () => {
  it('Kafka unreachable: /healthz 200, /readyz 503 naming the lag read, failures counted, unknown paths 404', async () => {
    const sidecar = await startSidecarProcess({ KAFKA_BROKERS: '127.0.0.1:1', INPUT_TOPICS: 'nowhere', LAG_INTERVAL_MS: '1000', SCORER_STATUS_URL: `http://127.0.0.1:${await freePort()}` });
    try {
      expect(await (await sidecar.get('/healthz')).json()).toEqual({ status: 'ok' });
      const body = await eventually(async () => {
        const res = await sidecar.get('/readyz');
        expect(res.status).toBe(503);
        const b = (await res.json()) as { reasons: string[] };
        expect(b.reasons.join('; ')).toMatch(/no successful consumer-lag read yet: .+/);
        return b;
      });
      expect(body.reasons).toHaveLength(2);
      await eventually(async () => {
        const page = await (await sidecar.get('/metrics')).text();
        expect(Number(/^sentiment_lag_read_failures_total (\d+)/m.exec(page)?.[1])).toBeGreaterThanOrEqual(1);
        expect(page).toMatch(/^sentiment_scorer_up 0$/m);
        expect(page).not.toMatch(/^kafka_consumergroup_lag\{/m);
      });
      expect((await sidecar.get('/nope')).status).toBe(404);
      expect((await fetch(`${sidecar.base}/metrics`, { method: 'POST', body: 'x' })).status).toBe(404);
    } finally {
      expect(await sidecar.proc.stop('SIGTERM')).toBe(0);
    }
  });

  it.each([
    [{}, 'INPUT_TOPICS is required'],
    [{ INPUT_TOPICS: 'a', METRICS_PORT: 'http' }, 'METRICS_PORT must be an integer from 1 to 65535 (got "http")'],
    [{ INPUT_TOPICS: 'a', SCORER_STATUS_URL: '127.0.0.1:9465' }, 'SCORER_STATUS_URL must be an http:// or https:// URL'],
  ])('bad configuration %j exits 2 with one line naming the variable', async (env, message) => {
    const proc = spawnCli(['sidecar'], { LOG_LEVEL: 'fatal', KAFKA_BROKERS: '127.0.0.1:1', ...env } as Record<string, string>);
    expect(await proc.exited).toBe(2);
    const lines = proc.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(message);
  });

  it('the PromQL metric-name extractor finds names and nothing else (the dashboard check above relies on it)', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (job, le) (rate(sentiment_end_to_end_latency_seconds_bucket{job=~"$job"}[$__rate_interval])))')).toEqual([
      'sentiment_end_to_end_latency_seconds_bucket',
    ]);
    expect(metricNames('job:a:rate5m / on (job) (sum by (job) (rate(b_total[5m])) > 0) and deriv(c[5m]) > 1e3 or up{job="x"} == 0 offset 5m')).toEqual(['job:a:rate5m', 'b_total', 'c', 'up']);
    expect(exposedNames('# TYPE h histogram\n# TYPE c_total counter\n')).toEqual(new Set(['h', 'h_bucket', 'h_sum', 'h_count', 'c_total']));
  });
});
