// The metrics sidecar as it runs in a pod: the built CLI `sidecar` beside the real scorer, on the
// real broker, scraped by a real Prometheus (Debian's binary; deploy/prometheus/install.sh) that
// also loads deploy/prometheus/rules. What Prometheus stores is what dashboards and alerts see.
//
// The first describe block is one story in order (before the scorer, with it, after it), because
// the expensive parts (scorer model load, Prometheus) are started once; vitest runs a file's tests
// in order.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLagReader } from '@sentiment-stream/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, createProducer, createTopic, kafkaBrokers, uniqueGroup, uniqueTopic } from '../support/kafka.js';
import { SYNTHETIC_METRICS, exposedNames, metricNames, startPrometheus, total, type PrometheusProcess } from '../support/prometheus.js';
import { freePort, spawnCli, startScorer, type ScorerProcess } from '../support/scorer.js';
import { produceTexts } from '../support/streams.js';
import { eventually } from '../support/eventually.js';

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const RULE_FILES = [repo('deploy/prometheus/rules/recording.yml'), repo('deploy/prometheus/rules/alerts.yml')];
const DASHBOARD = repo('deploy/grafana/dashboards/sentiment-stream.json');
const HELM_TEST_SCRIPT = repo('helm/sentiment-stream/files/tests/sidecar-check.mjs');
const JOB = 'sentiment-stream';
/** The sidecar's drain estimate for a backlog with no progress (DRAIN_MAX_SECONDS as set below). */
const DRAIN_MAX = 3600;

/**
 * The chart's `helm test` script, run as its pod runs it (`node --input-type=module -e <script>`),
 * against a sidecar here instead of the metrics Service.
 */
async function helmTest(env: Record<string, string>): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', readFileSync(HELM_TEST_SCRIPT, 'utf8')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 60_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

const kafka = createKafka('sidecar-suite');

/** The built CLI's `sidecar`, with its port; stopped by the caller. */
async function startSidecarProcess(env: Record<string, string>) {
  const port = await freePort();
  const proc = spawnCli(['sidecar'], { KAFKA_BROKERS: kafkaBrokers().join(','), METRICS_HOST: '127.0.0.1', METRICS_PORT: String(port), LOG_LEVEL: 'info', ...env }, port);
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
      // The shortest window (two reads), so the estimate exists within seconds here.
      DRAIN_WINDOW_MS: '2000',
      DRAIN_MAX_SECONDS: String(DRAIN_MAX),
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

    // Lag and no consumer: no progress over the window, so the drain estimate is the cap, finite.
    const drain = await prometheus.waitFor(`sentiment_consumergroup_drain_seconds{${group}}`, (s) => s.length === 1 && s[0]!.value === DRAIN_MAX);
    expect(drain[0]!.metric.topic).toBe(t.input);
    expect(total(await prometheus.query(`sentiment_consumergroup_processing_rate{${group}}`))).toBe(0);

    const ready = await sidecar.get('/readyz');
    expect(ready.status).toBe(503);
    const text = await ready.text();
    // Kafka answers, so the scorer is the only reason, given as a fixed code: no URL, port or error
    // text reaches the caller ...
    expect(JSON.parse(text)).toEqual({ status: 'not ready', reasons: ['scorer-unreachable'] });
    expect(text).not.toMatch(new RegExp(`127\\.0\\.0\\.1|${scorerPort}|ECONNREFUSED|http`));
    // ... the details go to the sidecar's log instead.
    await eventually(async () => expect(sidecar.proc.output()).toContain(`scorer unreachable at http://127.0.0.1:${scorerPort}/status: ECONNREFUSED`));
    // The scorer container's probes through the sidecar say the same.
    expect([(await sidecar.get('/scorer/livez')).status, await (await sidecar.get('/scorer/livez')).json()]).toEqual([503, { status: 'not live', reasons: ['scorer-unreachable'] }]);
    expect((await sidecar.get('/scorer/readyz')).status).toBe(503);
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

    // Caught up: nothing to drain. On the way the group committed offsets, which the processing rate saw.
    await prometheus.waitFor(`sentiment_consumergroup_drain_seconds{${group}}`, (s) => total(s) === 0);
    await prometheus.waitFor(`max_over_time(sentiment_consumergroup_processing_rate{${group}}[5m])`, (s) => s.length === 1 && s[0]!.value > 0);
    expect((await prometheus.query(`max_over_time(sentiment_consumergroup_drain_seconds{${group}}[5m])`))[0]?.value).toBe(DRAIN_MAX);

    // The recording rules evaluate over the scraped data (every second here).
    await prometheus.waitFor(`job_consumergroup:kafka_consumergroup_lag:sum{${group}}`, (s) => total(s) === 0);
    await prometheus.waitFor(`job_consumergroup_topic:sentiment_consumergroup_drain_seconds:max{${group}}`, (s) => total(s) === 0);
    await prometheus.waitFor(`job:sentiment_dead_letters_per_consumed:ratio_rate5m{job="${JOB}"}`, (s) => s.length === 1 && s[0]!.value > 0);
    // The commit counter's series is born at the first commit, which can be the last thing before lag
    // reads 0: rate() charts it (the dashboard's commits panel, next test) once two scrapes hold it.
    // A run where this whole test took 3.1 s found that panel empty.
    await prometheus.waitFor(`sum(rate(sentiment_commits_total{job="${JOB}"}[1m]))`, (s) => s.length === 1);

    const ready = await eventually(async () => {
      const res = await sidecar.get('/readyz');
      expect(res.status, await res.clone().text()).toBe(200);
      return res;
    });
    expect(await ready.json()).toEqual({ status: 'ready' });
    // The scorer container's probes, answered from the real scorer's /status.
    expect([(await sidecar.get('/scorer/readyz')).status, await (await sidecar.get('/scorer/readyz')).json()]).toEqual([200, { status: 'ready' }]);
    expect([(await sidecar.get('/scorer/livez')).status, await (await sidecar.get('/scorer/livez')).json()]).toEqual([200, { status: 'live' }]);
    // The recovery is logged once.
    expect(sidecar.proc.output()).toContain('/readyz passes again');

    // The chart's `helm test` passes against this pod's sidecar.
    const check = await helmTest({ SIDECAR_URL: sidecar.base, GROUP_ID: t.group, INPUT_TOPICS: t.input, TIMEOUT_MS: '30000' });
    expect(check, check.output).toMatchObject({ code: 0 });
    expect(check.output).toContain(`ok ${sidecar.base}/readyz`);
    expect(check.output).toContain(`ok ${sidecar.base}/metrics`);
    // ... and fails when the release's group or topics are not what the sidecar reports.
    const wrong = await helmTest({ SIDECAR_URL: sidecar.base, GROUP_ID: 'another-group', INPUT_TOPICS: t.input, TIMEOUT_MS: '1' });
    expect(wrong.code, wrong.output).toBe(1);
    expect(wrong.output).toContain(`FAIL ${sidecar.base}/metrics: missing kafka_consumergroup_lag_sum for group another-group, topic ${t.input}`);
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
    expect(await ready.json()).toEqual({ status: 'not ready', reasons: ['scorer-unreachable'] });
    // A stopped scorer is not live: the kubelet would restart the container (it has exited anyway).
    expect((await sidecar.get('/scorer/livez')).status).toBe(503);

    // Prometheus tells "scorer down" from "pod down": the target stays up.
    await prometheus.waitFor('sentiment_scorer_up', (s) => s.length === 1 && s[0]!.value === 0);
    expect((await prometheus.query(`up{job="${JOB}"}`))[0]?.value).toBe(1);

    // `helm test` fails, saying why (without the scorer's address).
    const check = await helmTest({ SIDECAR_URL: sidecar.base, GROUP_ID: t.group, INPUT_TOPICS: t.input, TIMEOUT_MS: '1' });
    expect(check.code, check.output).toBe(1);
    expect(check.output).toContain(`FAIL ${sidecar.base}/readyz: HTTP 503 {"status":"not ready","reasons":["scorer-unreachable"]}`);
  });
});

describe('transaction markers (the lag arithmetic adds none back)', () => {
  it('a group committed past the marker that ends a transaction reads lag 0; last record + 1 leaves the marker as lag 1', async () => {
    const topic = uniqueTopic('sidecar-tx');
    const group = uniqueGroup('sidecar-tx');
    await createTopic(kafka, topic, 2);
    // A transactional producer upstream: 5 records per partition in one committed transaction, so
    // each partition holds offsets 0-4 and the commit marker at 5; high watermark 6.
    const producer = createProducer(kafka, { transactionalId: `${topic}-tx`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic, messages: [0, 1].flatMap((partition) => [0, 1, 2, 3, 4].map((i) => ({ partition, key: `k${i}`, value: `v${i}` }))) });
    await tx.commit();
    await producer.disconnect();

    const admin = kafka.admin();
    await admin.connect();
    const reader = createLagReader(kafka, group, [topic], { timeoutMs: 10_000, drain: { windowMs: 1_000, maxSeconds: DRAIN_MAX } });
    try {
      // The coordinator writes the markers after it acknowledges the commit: until then the last
      // stable offset (what read_committed ListOffsets returns) stays at the transaction's start.
      await eventually(async () => expect((await admin.fetchTopicOffsets(topic)).map((m) => m.high)).toEqual(['6', '6']));
      // Partition 0 committed where a read_committed consumer's position is after the batch (past
      // the marker); partition 1 where a consumer that commits its last record + 1 would.
      await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '6' }, { partition: 1, offset: '5' }] });
      const first = await eventually(async () => {
        const r = await reader.read();
        expect(r.partitions.map((p) => [p.partition, p.lag])).toEqual([
          [0, 0],
          [1, 1],
        ]);
        return r;
      });
      expect(first.totals.get(topic)).toBe(1);

      // The idle group committed past every marker: lag 0, and so nothing to drain.
      await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 1, offset: '6' }] });
      await new Promise((r) => setTimeout(r, 1_100)); // one drain window after the first read
      const idle = await reader.read();
      expect(idle.totals.get(topic)).toBe(0);
      expect(idle.drain?.get(topic)).toMatchObject({ lag: 0, seconds: 0 });
    } finally {
      await reader.close();
      await admin.disconnect();
    }
  });
});

describe('metrics sidecar on its own', () => {
  it('Kafka unreachable: /healthz 200, /readyz 503 naming the lag read, failures counted, unknown paths 404', async () => {
    const sidecar = await startSidecarProcess({ KAFKA_BROKERS: '127.0.0.1:1', INPUT_TOPICS: 'nowhere', LAG_INTERVAL_MS: '1000', SCORER_STATUS_URL: `http://127.0.0.1:${await freePort()}` });
    try {
      expect(await (await sidecar.get('/healthz')).json()).toEqual({ status: 'ok' });
      await eventually(async () => {
        const res = await sidecar.get('/readyz');
        expect(res.status).toBe(503);
        expect(await res.json()).toEqual({ status: 'not ready', reasons: ['scorer-unreachable', 'lag-never-read'] });
      });
      // The Kafka error is in the log, never in the answer.
      await eventually(async () => {
        await sidecar.get('/readyz');
        expect(sidecar.proc.output()).toMatch(/"\/readyz fails: [^\n]*no successful consumer-lag read yet: [^\n]+/);
      });
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
