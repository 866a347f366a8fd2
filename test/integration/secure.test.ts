// Kafka over TLS + SASL, and what the processes reveal. A SASL_SSL broker from deploy/kafka's
// SECURE=1 mode (its own CA, SCRAM-SHA-512 and PLAIN users) runs beside the suite's plaintext one;
// the real scorer and the metrics sidecar (whose lag reader is libs/kafka's createLagReader) run
// against it as they would in a cluster: configured from the environment, the password in a file.
// Every test that sees output greps it for the password: a secret must never reach a log line,
// /status, /metrics, /readyz or a command line.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@sentiment-stream/config';
import { checkKafkaSettings, createKafka as createServiceKafka, createLagReader, kafkaSettings, type Logger } from '@sentiment-stream/kafka';
import type { Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createScorerTopics, readAll } from '../support/kafka.js';
import { freePort, spawnCli, startScorer, type ScorerProcess } from '../support/scorer.js';
import { startSecureBroker, type SecureBroker } from '../support/secure-broker.js';
import { accounting, parseEvents, produceTexts } from '../support/streams.js';
import { eventually } from '../support/eventually.js';

let broker: SecureBroker;
let kafka: Kafka;
const running: ScorerProcess[] = [];

beforeAll(async () => {
  broker = await startSecureBroker();
  kafka = broker.kafka('secure-suite');
}, 240_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
});

afterAll(async () => {
  await broker?.stop();
}, 120_000);

const topics = (partitions = 3) => createScorerTopics(kafka, 'sec', partitions);

async function scorer(env: Record<string, string>): Promise<ScorerProcess> {
  const s = await startScorer(env);
  running.push(s);
  return s;
}

/** The built CLI's sidecar on 127.0.0.1:<free port>, reading lag every second. */
async function sidecar(env: Record<string, string>): Promise<ScorerProcess & { get: (path: string) => Promise<Response> }> {
  const port = await freePort();
  const proc = spawnCli(['sidecar'], { METRICS_HOST: '127.0.0.1', METRICS_PORT: String(port), LAG_INTERVAL_MS: '1000', LOG_LEVEL: 'debug', ...env }, port);
  running.push(proc);
  return Object.assign(proc, { get: (path: string) => fetch(`http://127.0.0.1:${port}${path}`) });
}


/** Fails naming where the secret showed up. */
function expectNoSecret(where: string, text: string, ...secrets: string[]): void {
  for (const secret of secrets) expect(text.includes(secret), `${where} contains a password`).toBe(false);
}

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('Kafka over TLS + SASL (deploy/kafka SECURE=1)', () => {
  it('the scorer and the sidecar lag reader work over TLS + SCRAM-SHA-512 with the password from a file; nothing reveals it', async () => {
    const t = await topics();
    const sent = await produceTexts(kafka, t.input, 500);

    // The lag reader as the sidecar builds it: settings loaded from the same environment
    // (the password through KAFKA_SASL_PASSWORD_FILE), then the services' createKafka.
    const settings = loadConfig(kafkaSettings, { ...broker.env, KAFKA_CLIENT_ID: 'secure-lag-test' });
    checkKafkaSettings(settings);
    const lag = createLagReader(createServiceKafka(settings, quiet), t.group, [t.input]);
    try {
      // A fresh broker may still be loading its group coordinator: the first reads can be refused.
      await eventually(async () => expect((await lag.read()).totals.get(t.input)).toBe(500), 60_000);

      // broker.env is what with-broker.sh exports: KAFKA_SASL_PASSWORD_FILE, never the password.
      expect(Object.keys(broker.env)).not.toContain('KAFKA_SASL_PASSWORD');
      const s = await scorer({ ...broker.env, INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group, LOG_LEVEL: 'debug' });
      await s.ready();
      const events = parseEvents(await readAll(kafka, t.output, { expected: sent.length, timeoutMs: 90_000 }));
      expect(accounting(sent, events)).toEqual({ missing: [], duplicates: [] });
      await eventually(async () => expect((await lag.read()).totals.get(t.input)).toBe(0), 60_000);

      const side = await sidecar({ ...broker.env, INPUT_TOPICS: t.input, GROUP_ID: t.group, SCORER_STATUS_URL: `http://127.0.0.1:${s.statusPort}` });
      const ready = await eventually(async () => {
        const res = await side.get('/readyz');
        expect(res.status).toBe(200);
        return res.text();
      }, 60_000);
      const sideMetrics = await side.get('/metrics').then((r) => r.text());
      expect(sideMetrics).toMatch(new RegExp(`kafka_consumergroup_lag_sum\\{[^}]*topic="${t.input.replace(/\./g, '\\.')}"[^}]*\\} 0`));

      const status = await s.status();
      const metrics = await s.metrics();
      expect(status).toMatchObject({ ready: true });
      for (const [where, text] of [
        ['scorer log (debug)', s.output()],
        ['scorer /status', JSON.stringify(status)],
        ['scorer /metrics', metrics],
        ['sidecar log (debug)', side.output()],
        ['sidecar /metrics', sideMetrics],
        ['sidecar /readyz', ready],
        ['scorer command line', readFileSync(`/proc/${s.child.pid}/cmdline`, 'utf8')],
        // With the _FILE variant the password is not even in the process environment.
        ['scorer environment', readFileSync(`/proc/${s.child.pid}/environ`, 'utf8')],
        ['sidecar environment', readFileSync(`/proc/${side.child.pid}/environ`, 'utf8')],
      ] as const) {
        expectNoSecret(where, text, broker.password);
      }
      expect(s.output().length, 'the debug log was captured').toBeGreaterThan(0);
    } finally {
      await lag.close();
    }
  });

  it('PLAIN over TLS with the password in the environment: scores, and the password is in no output', async () => {
    const t = await topics(2);
    const sent = await produceTexts(kafka, t.input, 50);
    const env = { ...broker.env, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: broker.password, KAFKA_SASL_PASSWORD_FILE: '' };
    const s = await scorer({ ...env, INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group, LOG_LEVEL: 'debug' });
    await s.ready();
    const events = parseEvents(await readAll(kafka, t.output, { expected: sent.length }));
    expect(accounting(sent, events)).toEqual({ missing: [], duplicates: [] });
    expectNoSecret('scorer log', s.output(), broker.password);
    expectNoSecret('scorer /metrics', await s.metrics(), broker.password);
    expectNoSecret('scorer /status', JSON.stringify(await s.status()), broker.password);
  });

  // kafkajs: "SASL SCRAM SHA512 authentication failed"; @platformatic/kafka passes on the broker's own
  // words: "... invalid credentials with SASL mechanism SCRAM-SHA-512", "Invalid username or password".
  it.each([
    ['scram-sha-512', /SASL SCRAM SHA512 authentication failed|Authentication failed.*SASL mechanism SCRAM-SHA-512/i],
    ['plain', /SASL PLAIN authentication failed|SASL authentication failed.*Invalid username or password/i],
  ])('wrong %s password: a clear authentication error, not ready, and neither password in any output', async (mechanism, error) => {
    const t = await topics(1);
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const file = join(tmpdir(), `secure-test-${randomBytes(6).toString('hex')}.password`);
    writeFileSync(file, `${wrong}\n`, { mode: 0o600 });
    onTestFinished(() => rmSync(file, { force: true }));
    const env = { ...broker.env, KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_PASSWORD_FILE: file };
    const s = await scorer({ ...env, INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group, LOG_LEVEL: 'debug' });
    // Both, in either order: at LOG_LEVEL=debug the client's own log of the broker's refusal can come
    // before the scorer's "not ready" warning (kafkajs did once in CI, 2026-12-04).
    await eventually(async () => {
      expect(s.output()).toMatch(error);
      expect(s.output()).toContain('not ready');
    }, 60_000);

    const res = await fetch(`http://127.0.0.1:${s.statusPort}/status`);
    expect(res.status).toBe(503);
    const status = await res.text();
    expect(JSON.parse(status)).toMatchObject({ ready: false });
    const metrics = await s.metrics();
    expect(metrics).toMatch(/sentiment_scorer_ready 0/);
    // It keeps retrying (credentials can be fixed by rotating the mounted secret), it does not exit.
    expect(s.child.exitCode).toBeNull();

    const side = await sidecar({ ...env, INPUT_TOPICS: t.input, GROUP_ID: t.group, SCORER_STATUS_URL: `http://127.0.0.1:${s.statusPort}` });
    const readyz = await eventually(async () => {
      const r = await side.get('/readyz');
      const body = await r.text();
      expect(r.status).toBe(503);
      // Fixed reason codes for callers; the Kafka error itself goes to the sidecar's log only.
      expect(body).toMatch(/scorer-not-ready/);
      expect(body).not.toMatch(/authentication|SASL|127\.0\.0\.1/i);
      expect(side.output()).toMatch(/authentication failed/i);
      return body;
    }, 60_000);

    for (const [where, text] of [
      ['scorer log', s.output()],
      ['scorer /status', status],
      ['scorer /metrics', metrics],
      ['sidecar log', side.output()],
      ['sidecar /readyz', readyz],
      ['sidecar /metrics', await side.get('/metrics').then((r) => r.text())],
    ] as const) {
      expectNoSecret(where, text, wrong, broker.password);
    }
  });

  it('TLS against the system CAs (not the broker\'s): refused with a certificate error, not ready', async () => {
    const t = await topics(1);
    const env: Record<string, string> = { ...broker.env };
    delete env.KAFKA_SSL_CA_FILE;
    const s = await scorer({ ...env, INPUT_TOPICS: t.input, OUTPUT_TOPIC: t.output, DLQ_TOPIC: t.dlq, GROUP_ID: t.group, LOG_LEVEL: 'info' });
    await eventually(async () => expect(s.output()).toMatch(/self[- ]signed certificate|unable to verify/i), 60_000);
    expect((await fetch(`http://127.0.0.1:${s.statusPort}/status`)).status).toBe(503);
    expectNoSecret('scorer log', s.output(), broker.password);
  });
});

/** Local address (hex "0100007F" is 127.0.0.1) of each listening TCP socket on `port`, from /proc. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '0A' && local?.endsWith(`:${hexPort}`)) found.push(local.split(':')[0]!);
    }
  }
  return found;
}

/** Raw HTTP over a socket: what a misbehaving client sends, which fetch() will not. */
function rawRequest(port: number, request: string | Buffer, opts: { timeoutMs?: number } = {}): Promise<{ response: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const began = Date.now();
    const socket: Socket = connect(port, '127.0.0.1');
    let response = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${opts.timeoutMs} ms`));
    }, opts.timeoutMs ?? 30_000);
    socket.on('data', (d) => (response += d.toString()));
    socket.on('error', () => undefined); // a reset after a refusal is fine; 'close' follows
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ response, closedAfterMs: Date.now() - began });
    });
    socket.write(request);
  });
}

describe('the scorer\'s status endpoint', () => {
  // It comes up before the model and Kafka, so a scorer whose broker does not answer is enough.
  async function statusOnly(): Promise<ScorerProcess> {
    const s = await scorer({ INPUT_TOPICS: 'x', KAFKA_BROKERS: '127.0.0.1:1', LOG_LEVEL: 'fatal' });
    await eventually(async () => expect((await fetch(`http://127.0.0.1:${s.statusPort}/status`)).status).toBe(503), 30_000);
    return s;
  }

  it('listens on 127.0.0.1 only, by default', async () => {
    const s = await statusOnly();
    expect(listeners(s.statusPort)).toEqual(['0100007F']);
  });

  it('answers only GET /status, /live and /metrics (and HEAD); anything else is 404 and reveals nothing', async () => {
    const s = await statusOnly();
    const base = `http://127.0.0.1:${s.statusPort}`;
    for (const path of ['/', '/nope', '/status/', '/debug/pprof', '/.env', '/metrics.json']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      const body = await res.text();
      expect(body, path).not.toMatch(/KAFKA|stack|at .*\.js/);
    }
    // Dot segments and encoded ones, sent raw (fetch would normalise them away): no route matches.
    for (const path of ['/metrics/../status', '/%2e%2e/status', '/status%00', '//status']) {
      const { response } = await rawRequest(s.statusPort, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(response, path).toMatch(/^HTTP\/1\.1 (404|400)/);
      expect(response, path).not.toMatch(/"ready"|KAFKA|stack/);
    }
    expect((await fetch(`${base}/status`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'HEAD' })).status).toBe(200);
  });

  it('refuses oversized requests: 16 KB of headers, a long URL, a body over 1 KB', async () => {
    const s = await statusOnly();
    const bigHeader = await rawRequest(s.statusPort, `GET /status HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(bigHeader.response).toMatch(/^HTTP\/1\.1 431/);
    const longUrl = await rawRequest(s.statusPort, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(longUrl.response).toMatch(/^HTTP\/1\.1 431/);
    // No route takes a body; one sent anyway is refused by the 1 KB body limit or by the route (404).
    const body = 'x'.repeat(4_096);
    const res = await fetch(`http://127.0.0.1:${s.statusPort}/status`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect([404, 413]).toContain(res.status);
  });

  it('drops a client that sends half a request and stalls (slowloris) within the 10 s timeouts', async () => {
    const s = await statusOnly();
    const { response, closedAfterMs } = await rawRequest(s.statusPort, 'GET /status HTTP/1.1\r\nHost: x\r\n', { timeoutMs: 25_000 });
    expect(closedAfterMs).toBeLessThan(15_000);
    expect(response).not.toMatch(/"ready"/);
  }, 40_000);
});
