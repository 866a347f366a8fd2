// The scorer as users run it: a child process on the real broker with the shipped model.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { sentimentV1Schema } from '@sentiment-stream/events';
import { afterEach, describe, expect, it } from 'vitest';
import { createKafka, createScorerTopics, readAll } from '../support/kafka.js';
import { freePort, startScorer, spawnCli, type ScorerProcess } from '../support/scorer.js';
import { accounting, expectPerKeyOrder, parseEvents, produceTexts } from '../support/streams.js';

const kafka = createKafka('scorer-suite');
const running: ScorerProcess[] = [];

const topics = (partitions = 6) => createScorerTopics(kafka, 'scorer', partitions);

function scorerEnv(t: Awaited<ReturnType<typeof topics>>, extra: Record<string, string> = {}) {
  return { INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group, ...extra };
}

async function launch(env: Record<string, string>): Promise<ScorerProcess> {
  const scorer = await startScorer(env);
  running.push(scorer);
  await scorer.ready();
  return scorer;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop('SIGKILL')));
});

describe('scorer', () => {
  it('scores 10,000 messages over 6 partitions: every id once, valid events, per-key order', async () => {
    const t = await topics();
    const sent = await produceTexts(kafka, t.input, 10_000, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
    const scorer = await launch(scorerEnv(t));
    const events = parseEvents(await readAll(kafka, t.output, { expected: sent.length, timeoutMs: 120_000, settleMs: 2_000 }));

    expect(accounting(sent, events)).toEqual({ missing: [], duplicates: [] });
    const ajv = new Ajv2020({ strict: true });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    const validate = ajv.compile(sentimentV1Schema);
    for (const e of events) expect(validate(e.raw), JSON.stringify(validate.errors)).toBe(true);
    expectPerKeyOrder(events);
    expect(new Set(events.map((e) => e.label))).toEqual(new Set(['negative', 'positive']));

    const metrics = await scorer.metrics();
    expect(metrics).toMatch(/sentiment_events_produced_total\{label="positive"\} \d+/);
    expect(metrics).toMatch(/sentiment_model_info\{model="sst2-bilstm",version="[^"]+",provider="cpu"\} 1/);
    const status = await scorer.status();
    expect(status).toMatchObject({ ready: true, model: { name: 'sst2-bilstm', provider: 'cpu' } });
  });

  it('carries traceparent and keys from input to output', async () => {
    const t = await topics(2);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const sent = await produceTexts(kafka, t.input, 20, { headers: { traceparent } });
    await launch(scorerEnv(t));
    const out = await readAll(kafka, t.output, { expected: sent.length });
    expect(out).toHaveLength(20);
    for (const m of out) {
      expect(m.headers.traceparent?.toString()).toBe(traceparent);
      expect(m.key).toBe(sent.find((s) => s.id === JSON.parse(m.value!).id)!.key);
    }
  });

  it('exactly-once: a read_committed reader sees each of 10,000 inputs exactly once', async () => {
    const t = await topics();
    const sent = await produceTexts(kafka, t.input, 10_000);
    await launch(scorerEnv(t, { DELIVERY: 'exactly-once' }));
    const events = parseEvents(await readAll(kafka, t.output, { expected: sent.length, timeoutMs: 120_000, settleMs: 3_000 }));
    expect(events).toHaveLength(10_000);
    expect(accounting(sent, events)).toEqual({ missing: [], duplicates: [] });
  });

  it('sends each kind of bad input to the dead-letter topic with its code and scores the rest', async () => {
    const t = await topics(3);
    const bad: [string, Buffer | null, string][] = [
      ['not json', Buffer.from('{"text": nope'), 'INVALID_JSON'],
      ['array', Buffer.from('[1,2]'), 'NOT_AN_OBJECT'],
      ['no text', Buffer.from('{"id":"x"}'), 'MISSING_TEXT'],
      ['number text', Buffer.from('{"text":42}'), 'TEXT_NOT_STRING'],
      ['empty text', Buffer.from('{"text":"   "}'), 'EMPTY_TEXT'],
      ['huge text', Buffer.from(JSON.stringify({ text: 'a'.repeat(20_000) })), 'TEXT_TOO_LARGE'],
      ['bad utf-8', Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe]), 'INVALID_UTF8'],
      ['tombstone', null, 'NULL_VALUE'],
    ];
    const producer = kafka.producer();
    await producer.connect();
    const good = [];
    for (let i = 0; i < bad.length; i++) {
      good.push({ key: `g${i}`, value: JSON.stringify({ id: `good-${i}`, text: 'A fine and moving film.' }) });
      await producer.send({ topic: t.input, messages: [good.at(-1)!, { key: bad[i]![0], value: bad[i]![1], headers: { origin: 'suite' } }] });
    }
    await producer.disconnect();

    await launch(scorerEnv(t));
    const events = parseEvents(await readAll(kafka, t.output, { expected: good.length }));
    expect(events.map((e) => e.id).sort()).toEqual(good.map((g) => JSON.parse(g.value).id).sort());

    const dead = await readAll(kafka, t.dlq, { expected: bad.length });
    expect(dead).toHaveLength(bad.length);
    for (const [key, value, code] of bad) {
      const letter = dead.find((d) => d.key === key)!;
      expect(letter, key).toBeDefined();
      expect(letter.headers['x-error-code']?.toString()).toBe(code);
      expect(letter.headers['x-error-message']?.toString().length).toBeGreaterThan(5);
      expect(letter.headers['x-source-topic']?.toString()).toBe(t.input);
      expect(letter.headers['x-source-offset']?.toString()).toMatch(/^\d+$/);
      expect(letter.headers.origin?.toString()).toBe('suite');
      expect(letter.value).toBe(value === null ? null : value.toString());
    }
  });

  it('SIGKILL mid-stream, then restart: no id missing', async () => {
    const t = await topics();
    const sent = await produceTexts(kafka, t.input, 10_000);
    const first = await launch(scorerEnv(t, { BATCH_MAX_SIZE: '64' }));
    await waitForOutput(t.output, 2_000);
    expect(await first.stop('SIGKILL')).toBeNull();
    await launch(scorerEnv(t, { BATCH_MAX_SIZE: '64' }));
    const events = parseEvents(await readAll(kafka, t.output, { expected: sent.length, timeoutMs: 120_000, settleMs: 2_000 }));
    const { missing, duplicates } = accounting(sent, events);
    expect(missing).toEqual([]);
    console.log(`SIGKILL mid-stream: ${events.length} events for ${sent.length} inputs, ${duplicates.length} duplicates (at-least-once)`);
  });

  it('a second scorer joins mid-stream: the group rebalances and no id is missing', async () => {
    const t = await topics();
    const sent = await produceTexts(kafka, t.input, 10_000);
    await launch(scorerEnv(t, { BATCH_MAX_SIZE: '64' }));
    await waitForOutput(t.output, 1_500);
    const second = await launch(scorerEnv(t, { BATCH_MAX_SIZE: '64' }));
    const events = parseEvents(await readAll(kafka, t.output, { expected: sent.length, timeoutMs: 120_000, settleMs: 2_000 }));
    expect(accounting(sent, events).missing).toEqual([]);
    const { assignment } = (await second.status()) as { assignment: { partitions: number[] }[] };
    expect(assignment.flatMap((a) => a.partitions).length).toBeGreaterThan(0);
  });

  it('SIGTERM under load drains and exits 0 in time; a restart loses nothing', async () => {
    const t = await topics();
    const sent = await produceTexts(kafka, t.input, 10_000);
    const first = await launch(scorerEnv(t, { SHUTDOWN_TIMEOUT_MS: '15000', LOG_LEVEL: 'info' }));
    await waitForOutput(t.output, 1_000);
    const began = Date.now();
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(first.output()).toContain('stopped cleanly');
    await launch(scorerEnv(t));
    const events = parseEvents(await readAll(kafka, t.output, { expected: sent.length, timeoutMs: 120_000, settleMs: 2_000 }));
    expect(accounting(sent, events).missing).toEqual([]);
  });

  it.each([
    [{}, 'INPUT_TOPICS is required'],
    [{ INPUT_TOPICS: 'a', BATCH_MAX_WAIT_MS: 'soon' }, 'BATCH_MAX_WAIT_MS must be an integer from 0 to 10000 (got "soon")'],
    [{ INPUT_TOPICS: 'a', MODEL: '/nonexistent/model' }, '/nonexistent/model'],
    [{ INPUT_TOPICS: 'a', KAFKA_BROKERS: '' }, 'KAFKA_BROKERS is set but empty'],
    [{ INPUT_TOPICS: 'a', KAFKA_BROKERS: 'broker-without-port' }, 'KAFKA_BROKERS must list host:port pairs'],
    [{ INPUT_TOPICS: 'a', OUTPUT_TOPIC: 'same', DLQ_TOPIC: 'same' }, 'DLQ_TOPIC must differ from OUTPUT_TOPIC'],
    [{ INPUT_TOPICS: 'a', KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' }, 'KAFKA_SSL_CA_FILE'],
  ])('bad configuration %j exits non-zero with one line', async (env, message) => {
    const proc = spawnCli(['scorer'], { LOG_LEVEL: 'fatal', KAFKA_BROKERS: '127.0.0.1:1', STATUS_PORT: String(await freePort()), ...env } as Record<string, string>);
    const code = await proc.exited;
    expect(code).not.toBe(0);
    const lines = proc.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(message);
  });

  it.each(['input', 'output', 'dlq'] as const)('a missing %s topic stops start-up: exit non-zero with one line naming it', async (which) => {
    const t = await topics(1);
    const absent = `${t.input}-absent-${which}`;
    const env = scorerEnv(t, { LOG_LEVEL: 'fatal', ...{ input: { INPUT_TOPICS: absent }, output: { OUTPUT_TOPIC: absent }, dlq: { DLQ_TOPIC: absent } }[which] });
    const proc = await startScorer(env);
    running.push(proc);
    const code = await proc.exited;
    expect(code).not.toBe(0);
    const lines = proc.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    const setting = { input: 'INPUT_TOPICS', output: 'OUTPUT_TOPIC', dlq: 'DLQ_TOPIC' }[which];
    expect((JSON.parse(lines[0]!) as { err: string }).err).toContain(`${setting}: topic "${absent}" not found on the cluster`);
  });
});

/** Resolves once the output topic holds at least `n` messages. */
async function waitForOutput(topic: string, n: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let i = 0; i < 600; i++) {
      const offsets = await admin.fetchTopicOffsets(topic);
      if (offsets.reduce((sum, p) => sum + Number(p.high), 0) >= n) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${topic} never reached ${n} messages`);
  } finally {
    await admin.disconnect();
  }
}
