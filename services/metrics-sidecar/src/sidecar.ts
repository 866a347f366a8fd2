import { createKafka, createLagReader, type LagSnapshot, type Logger } from '@sentiment-stream/kafka';
import { Registry, createSidecarMetrics, type SidecarMetrics } from '@sentiment-stream/metrics';
import Fastify, { type FastifyInstance } from 'fastify';
import type { SidecarConfig } from './config.js';
import { mergeExpositions } from './merge.js';

/** A lag read that has not finished after this long counts as failed (Kafka down or overloaded). */
const LAG_READ_TIMEOUT_MS = 10_000;

export interface RunningSidecar {
  /** The port it listens on. */
  readonly port: number;
  stop(): Promise<void>;
}

export interface LagState {
  /** Date.now() of the last successful read, undefined before the first. */
  lastSuccessAt: number | undefined;
  /** Message of the last failed read, cleared by a success. */
  lastError: string | undefined;
}

export interface ScorerReadiness {
  ready: boolean;
  /** Why not, when not ready. */
  reason?: string;
}

/**
 * `/readyz` in one pure function: ready only when the scorer says it is ready and Kafka answered a
 * lag read within `staleMs` (so the pod is not ready while its group's lag cannot be seen).
 */
export function readiness(scorer: ScorerReadiness, lag: LagState, now: number, staleMs: number): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (!scorer.ready) reasons.push(scorer.reason ?? 'scorer not ready');
  const why = lag.lastError ? `: ${lag.lastError}` : '';
  if (lag.lastSuccessAt === undefined) {
    reasons.push(`no successful consumer-lag read yet${why}`);
  } else if (now - lag.lastSuccessAt > staleMs) {
    reasons.push(`last successful consumer-lag read ${Math.round((now - lag.lastSuccessAt) / 1000)} s ago (limit ${Math.round(staleMs / 1000)} s)${why}`);
  }
  return { ready: reasons.length === 0, reasons };
}

/**
 * Starts the HTTP endpoint and the lag loop. Neither the scorer nor Kafka has to be up: `/metrics`
 * and `/healthz` answer at once, `/readyz` says what is missing until both are.
 */
export async function startSidecar(config: SidecarConfig, logger: Logger): Promise<RunningSidecar> {
  const started = Date.now();
  const lag: LagState = { lastSuccessAt: undefined, lastError: undefined };
  const registry = new Registry();
  const metrics = createSidecarMetrics(registry, { lagReadAgeSeconds: () => (Date.now() - (lag.lastSuccessAt ?? started)) / 1000 });
  const staleMs = 3 * config.LAG_INTERVAL_MS;

  const reader = createLagReader(createKafka(config, quietKafkaLogger(logger)), config.GROUP_ID, config.INPUT_TOPICS, { timeoutMs: LAG_READ_TIMEOUT_MS });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const readLag = async () => {
    try {
      const snapshot = await reader.read();
      applyLag(metrics, snapshot);
      if (lag.lastError !== undefined) logger.info({ groupId: config.GROUP_ID }, 'consumer-lag reads work again');
      lag.lastSuccessAt = snapshot.at;
      lag.lastError = undefined;
    } catch (err) {
      metrics.lagReadFailures.inc();
      const message = (err as Error).message ?? String(err);
      // Logged when the failure changes, not every interval, so a long Kafka outage does not flood the log.
      if (message !== lag.lastError) logger.warn({ err: message, groupId: config.GROUP_ID, topics: config.INPUT_TOPICS }, 'consumer-lag read failed; keeping the last values');
      lag.lastError = message;
    }
  };
  let warnedDropped = false;
  const app = await startServer(config, {
    metrics: async () => {
      const began = performance.now();
      const scraped = await scrapeScorer(config);
      metrics.scorerScrapeSeconds.set((performance.now() - began) / 1000);
      metrics.scorerUp.set(scraped.ok ? 1 : 0);
      if (!scraped.ok) logger.debug({ reason: scraped.reason }, 'scorer /metrics not read');
      const merged = mergeExpositions(await registry.metrics(), scraped.ok ? scraped.text : '');
      if (merged.dropped.length > 0 && !warnedDropped) {
        warnedDropped = true;
        logger.warn({ families: merged.dropped }, "the scorer exports metric families the sidecar exports too; serving the sidecar's");
      }
      return { contentType: registry.contentType, body: merged.text };
    },
    ready: async () => readiness(await scorerReadiness(config), lag, Date.now(), staleMs),
  });
  // Started once the port is bound, so a sidecar that cannot listen exits without a loop holding it.
  // The next read is scheduled when the previous one ends, so a slow Kafka never stacks reads up.
  const tick = () => {
    void readLag().finally(() => {
      if (!stopped) timer = setTimeout(tick, config.LAG_INTERVAL_MS);
    });
  };
  tick();
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.METRICS_PORT;

  return {
    port,
    async stop() {
      // No waiting for a read in progress: it changes nothing after this, and against an
      // unreachable Kafka it may run until its timeout. The finally above sees `stopped`.
      stopped = true;
      clearTimeout(timer);
      await reader.close();
      await app.close().catch(() => undefined);
    },
  };
}

/**
 * kafkajs logs every retried request at error level; a lag read that fails is already logged once
 * by the loop (and counted in sentiment_lag_read_failures_total), so its own lines go to debug.
 */
function quietKafkaLogger(logger: Logger): Logger {
  const debug = (obj: object, msg?: string) => logger.debug(obj, msg);
  return { debug, info: debug, warn: debug, error: debug };
}

/**
 * Replaces the lag series with the snapshot's. Reset and set run in one synchronous block, so a
 * scrape never sees a half-written set, and partitions that went away stop being exported.
 */
function applyLag(metrics: SidecarMetrics, snapshot: LagSnapshot): void {
  metrics.lag.reset();
  metrics.lagSum.reset();
  metrics.topicOffset.reset();
  for (const p of snapshot.partitions) {
    metrics.lag.set({ group: snapshot.groupId, consumergroup: snapshot.groupId, topic: p.topic, partition: String(p.partition) }, p.lag);
    metrics.topicOffset.set({ topic: p.topic, partition: String(p.partition) }, Number(p.high));
  }
  for (const [topic, total] of snapshot.totals) metrics.lagSum.set({ group: snapshot.groupId, consumergroup: snapshot.groupId, topic }, total);
}

/** What a GET of the scorer gave: an HTTP status and body, or the reason there was no answer. */
type Fetched = { status: number; text: string } | { status: undefined; reason: string };

/** GET with one deadline covering headers and body; never throws. */
async function fetchScorer(url: string, timeoutMs: number, accept: string): Promise<Fetched> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept } });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    // fetch() says only "fetch failed"; the cause holds ECONNREFUSED, a DNS error or a refused port.
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { status: undefined, reason: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message) };
  }
}

async function scrapeScorer(config: SidecarConfig): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
  const res = await fetchScorer(`${config.SCORER_STATUS_URL}/metrics`, config.SCORER_TIMEOUT_MS, 'text/plain;version=0.0.4');
  if (res.status === undefined) return { ok: false, reason: res.reason };
  return res.status === 200 ? { ok: true, text: res.text } : { ok: false, reason: `HTTP ${res.status}` };
}

async function scorerReadiness(config: SidecarConfig): Promise<ScorerReadiness> {
  const url = `${config.SCORER_STATUS_URL}/status`;
  const res = await fetchScorer(url, config.SCORER_TIMEOUT_MS, 'application/json');
  if (res.status === undefined) return { ready: false, reason: `scorer unreachable at ${url}: ${res.reason}` };
  let ready: unknown;
  try {
    ready = (JSON.parse(res.text) as { ready?: unknown }).ready;
  } catch {
    return { ready: false, reason: `scorer ${url} answered ${res.status} without a JSON status` };
  }
  // The scorer answers 503 with ready=false while it loads the model or joins its group.
  return res.status === 200 && ready === true ? { ready: true } : { ready: false, reason: `scorer not ready (${url} answered ${res.status}, ready=${String(ready)})` };
}

interface Handlers {
  metrics(): Promise<{ contentType: string; body: string }>;
  ready(): Promise<{ ready: boolean; reasons: string[] }>;
}

/**
 * GET-only endpoint. Limits are small because nothing legitimate sends a body, and the timeouts
 * stop a slow client from holding a socket; the scorer fetch inside /metrics is bounded separately.
 */
async function startServer(config: SidecarConfig, handlers: Handlers): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024, connectionTimeout: 10_000, requestTimeout: 10_000 });
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await handlers.metrics();
    reply.header('content-type', contentType);
    return body;
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const { ready, reasons } = await handlers.ready();
    reply.code(ready ? 200 : 503);
    return ready ? { status: 'ready' } : { status: 'not ready', reasons };
  });
  app.setNotFoundHandler(async (req, reply) => {
    reply.code(404);
    return { error: 'not found', path: req.url.split('?')[0], endpoints: ['/metrics', '/healthz', '/readyz'] };
  });
  await app.listen({ host: config.METRICS_HOST, port: config.METRICS_PORT });
  return app;
}
