// OpenTelemetry from the real scorer: a child process on the real broker exports its spans over
// OTLP/HTTP (JSON bodies) to a receiver in this test, which checks the span tree, the links to the
// producers' contexts, the messaging attributes, and the context the outputs carry.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { CloudEvent, Kafka as CloudEventsKafka, type KafkaMessage } from 'cloudevents';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, createProducer, createScorerTopics, readAll, type ReadMessage } from '../support/kafka.js';
import { freePort, startScorer, type ScorerProcess } from '../support/scorer.js';

const kafka = createKafka('tracing-suite');
const running: ScorerProcess[] = [];

/** A span as the OTLP/JSON encoding carries it (ids in hex, kind as the enum's number). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  links?: { traceId: string; spanId: string; attributes?: OtlpAttribute[] }[];
  droppedLinksCount?: number;
  status?: { code?: number };
}
interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}
interface Received {
  span: OtlpSpan;
  resource: Record<string, unknown>;
}

const SPAN_KIND = { INTERNAL: 1, PRODUCER: 4, CONSUMER: 5 } as const;

function attrs(list: OtlpAttribute[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map((a) => [a.key, a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : (a.value.boolValue ?? a.value.doubleValue))]));
}

/** An OTLP/HTTP trace receiver: POST /v1/traces with an ExportTraceServiceRequest in JSON. */
async function startReceiver(): Promise<{ server: Server; port: number; spans: Received[]; requests: { contentType: string | undefined }[] }> {
  const spans: Received[] = [];
  const requests: { contentType: string | undefined }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      requests.push({ contentType: req.headers['content-type'] });
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const request = JSON.parse(body.toString('utf8')) as {
        resourceSpans: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of request.resourceSpans) {
        const resource = attrs(rs.resource?.attributes);
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ span, resource });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port, spans, requests };
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await new Promise((resolve) => receiver.server.close(resolve));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop('SIGKILL')));
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

describe('tracing', () => {
  it('exports process -> score/send spans linked to each producer, and outputs carry the send span', async () => {
    const t = await createScorerTopics(kafka, 'tracing', 2);
    // 40 records, each with its own producer context, 10 more sharing one (a producer that sent a
    // batch under one span), 2 without context and 1 that cannot be scored (a dead letter).
    type Sent = { key: string; value: string; traceparent?: string };
    const shared = `00-${hex(16)}-${hex(8)}-01`;
    const sent: Sent[] = [];
    for (let i = 0; i < 40; i++) sent.push({ key: `k${i}`, value: JSON.stringify({ id: `own-${i}`, text: `A fine and moving film, take ${i}.` }), traceparent: `00-${hex(16)}-${hex(8)}-01` });
    for (let i = 0; i < 10; i++) sent.push({ key: `s${i}`, value: JSON.stringify({ id: `shared-${i}`, text: 'Dull and far too long.' }), traceparent: shared });
    sent.push({ key: 'none-1', value: JSON.stringify({ id: 'none-1', text: 'Nothing to trace here.' }) });
    sent.push({ key: 'none-2', value: JSON.stringify({ id: 'none-2', text: 'Nor here.' }) });
    const badTraceparent = `00-${hex(16)}-${hex(8)}-01`;
    sent.push({ key: 'bad', value: '{"text": nope', traceparent: badTraceparent });

    const producer = createProducer(kafka);
    await producer.connect();
    await producer.send({
      topic: t.input,
      messages: sent.map((s) => ({ key: s.key, value: s.value, ...(s.traceparent ? { headers: { traceparent: s.traceparent } } : {}) })),
    });
    await producer.disconnect();

    const scorer = await startScorer({
      INPUT_TOPICS: t.input,
      OUTPUT_TOPIC: t.output,
      DLQ_TOPIC: t.dlq,
      GROUP_ID: t.group,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
      OTEL_SERVICE_NAME: 'scorer-under-test',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci',
      // No export on the processor's schedule during the test: every span reaches the receiver only
      // through the flush on stop, which is what this proves.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    });
    running.push(scorer);
    await scorer.ready();

    const events = await readAll(kafka, t.output, { expected: sent.length - 1 });
    const dead = await readAll(kafka, t.dlq, { expected: 1 });
    expect(events).toHaveLength(sent.length - 1);
    expect(dead).toHaveLength(1);

    const ours = () => receiver.spans.filter((r) => r.resource['service.name'] === 'scorer-under-test').map((r) => r.span);
    const processSpans = () => ours().filter((s) => s.name.startsWith('process'));
    expect(ours()).toHaveLength(0);
    // A graceful stop flushes the spans on its way out: the process spans then account for every record.
    expect(await scorer.stop('SIGTERM')).toBe(0);
    expect(processSpans().reduce((n, s) => n + Number(attrs(s.attributes)['messaging.batch.message_count']), 0)).toBe(sent.length);

    const all = ours();
    const byId = new Map(all.map((s) => [s.spanId, s]));
    expect(receiver.requests.every((r) => r.contentType === 'application/json')).toBe(true);
    const resource = receiver.spans.find((r) => r.resource['service.name'] === 'scorer-under-test')!.resource;
    expect(resource).toMatchObject({ 'service.name': 'scorer-under-test', 'deployment.environment.name': 'ci', 'telemetry.sdk.language': 'nodejs' });

    // The tree: every process span is a root CONSUMER span with one score and one send child.
    for (const p of processSpans()) {
      expect(p.kind).toBe(SPAN_KIND.CONSUMER);
      expect(p.parentSpanId ?? '').toBe('');
      expect(p.name).toBe(`process ${t.input}`);
      expect(attrs(p.attributes)).toMatchObject({
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': t.input,
        'messaging.consumer.group.name': t.group,
      });
      const children = all.filter((s) => s.parentSpanId === p.spanId);
      expect(children.map((c) => c.name.split(' ')[0]).sort()).toEqual(['score', 'send']);
      for (const c of children) expect(c.traceId).toBe(p.traceId);
      const score = children.find((c) => c.name === 'score')!;
      const send = children.find((c) => c.name.startsWith('send'))!;
      expect(score.kind).toBe(SPAN_KIND.INTERNAL);
      expect(attrs(score.attributes)).toMatchObject({ 'sentiment_stream.model.name': 'sst2-bilstm', 'sentiment_stream.model.provider': 'cpu' });
      expect(send.kind).toBe(SPAN_KIND.PRODUCER);
      expect(attrs(send.attributes)).toMatchObject({ 'messaging.system': 'kafka', 'messaging.operation.type': 'send', 'messaging.batch.message_count': attrs(p.attributes)['messaging.batch.message_count'] });
      expect(p.status?.code ?? 0).not.toBe(2);
    }
    expect(all.filter((s) => s.name === 'score')).toHaveLength(processSpans().length);

    // The links: every producer context, each once per batch it appeared in, none invented.
    const links = processSpans().flatMap((p) => (p.links ?? []).map((l) => ({ ...l, process: p })));
    const contexts = new Set(sent.flatMap((s) => (s.traceparent ? [s.traceparent] : [])));
    const linked = new Set(links.map((l) => `00-${l.traceId}-${l.spanId}-01`));
    expect(linked).toEqual(contexts);
    expect(processSpans().every((p) => (p.droppedLinksCount ?? 0) === 0)).toBe(true);
    for (const l of links) {
      const a = attrs(l.attributes);
      expect(a['messaging.destination.name']).toBe(t.input);
      expect(['0', '1']).toContain(a['messaging.destination.partition.id']);
      expect(typeof a['kafka.offset']).toBe('number');
    }
    // The shared context is one link per batch, counting the records that carried it.
    const sharedLinks = links.filter((l) => `00-${l.traceId}-${l.spanId}-01` === shared);
    expect(sharedLinks.reduce((n, l) => n + Number(attrs(l.attributes)['messaging.batch.message_count'] ?? 1), 0)).toBe(10);

    // The outputs carry their send span's context; that span's process span links to the input's producer.
    const sendContext = (m: ReadMessage) => {
      const [, traceId, spanId] = m.headers.traceparent!.toString().split('-');
      const send = byId.get(spanId!);
      expect(send, 'the span in the output traceparent was exported').toBeDefined();
      expect(send!.kind).toBe(SPAN_KIND.PRODUCER);
      expect(send!.traceId).toBe(traceId);
      return byId.get(send!.parentSpanId!)!;
    };
    for (const m of events) {
      const input = sent.find((s) => s.key === m.key)!;
      const process = sendContext(m);
      if (input.traceparent) expect((process.links ?? []).map((l) => `00-${l.traceId}-${l.spanId}-01`)).toContain(input.traceparent);
      // And the event is still a valid CloudEvent, traceparent a plain header beside it.
      const headers = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, v?.toString() ?? '']));
      const ce = CloudEventsKafka.toEvent({ key: m.key ?? '', value: m.value, headers } as KafkaMessage<unknown>) as CloudEvent<unknown>;
      expect(ce.validate()).toBe(true);
      expect(ce.type).toBe('dev.sentiment-stream.sentiment.v1');
    }
    // The dead letter is published by the scorer too, and keeps its input's context aside.
    expect(dead[0]!.headers['x-error-code']?.toString()).toBe('INVALID_JSON');
    expect(dead[0]!.headers['x-source-traceparent']?.toString()).toBe(badTraceparent);
    const deadProcess = sendContext(dead[0]!);
    expect((deadProcess.links ?? []).map((l) => `00-${l.traceId}-${l.spanId}-01`)).toContain(badTraceparent);
    const deadBatch = all.find((s) => s.parentSpanId === deadProcess.spanId && s.name === 'score')!;
    expect(Number(attrs(deadBatch.attributes)['sentiment_stream.dead_letters'])).toBeGreaterThanOrEqual(1);
  });

  it('a bad OTEL_* setting stops start-up with one line naming it', async () => {
    // Read before anything else starts, so no topics are needed.
    const scorer = await startScorer({
      INPUT_TOPICS: 'never-read',
      OUTPUT_TOPIC: 'never-written',
      DLQ_TOPIC: 'never-written-either',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    running.push(scorer);
    expect(await scorer.exited).toBe(1);
    const lines = scorer.output().split('\n').filter((l) => l.includes('OTEL_EXPORTER_OTLP_PROTOCOL'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('OTEL_EXPORTER_OTLP_PROTOCOL must be http/json or http/protobuf (got \\"grpc\\")');
  });
});
