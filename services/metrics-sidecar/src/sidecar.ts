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

/**
 * Why a probe fails, as callers see it: a fixed vocabulary, never an error message, a URL or a
 * Kafka detail (those go to the sidecar's log). Anyone who can reach the scrape port can call the
 * probes, so they say which check failed and nothing about the inside.
 */
export type ProbeReason = 'scorer-unreachable' | 'scorer-bad-status' | 'scorer-not-ready' | 'scorer-not-live' | 'lag-never-read' | 'lag-stale';

/** What one GET of the scorer's `/status` said: its two booleans, or why there is no answer. */
export type ScorerStatus =
  | { reachable: true; httpStatus: number; ready: boolean; live: boolean }
  | { reachable: false; reason: 'scorer-unreachable' | 'scorer-bad-status'; detail: string };

export interface ProbeResult {
  ok: boolean;
  /** Fixed codes for the caller; empty when ok. */
  reasons: ProbeReason[];
  /** The same failures with their details, for the log only. */
  details: string[];
}

/**
 * The scorer's readiness as its `/status` states it: `ready: true` with HTTP 200. The scorer
 * answers 503 with `ready: false` while it loads the model or joins its group.
 */
export function scorerReadiness(status: ScorerStatus): ProbeResult {
  if (!status.reachable) return { ok: false, reasons: [status.reason], details: [status.detail] };
  if (status.httpStatus === 200 && status.ready) return { ok: true, reasons: [], details: [] };
  return { ok: false, reasons: ['scorer-not-ready'], details: [`scorer /status answered ${status.httpStatus} with ready=${String(status.ready)}`] };
}

/**
 * The scorer's liveness: its `/status` answered (any HTTP status: 503 only means not ready) with
 * `live: true`. No answer within SCORER_TIMEOUT_MS counts as not live too: a scorer whose event
 * loop is stuck cannot answer, and restarting it is the remedy for both.
 */
export function scorerLiveness(status: ScorerStatus): ProbeResult {
  if (!status.reachable) return { ok: false, reasons: [status.reason], details: [status.detail] };
  if (status.live) return { ok: true, reasons: [], details: [] };
  return { ok: false, reasons: ['scorer-not-live'], details: [`scorer /status answered ${status.httpStatus} with live=false`] };
}

/**
 * `/readyz` in one pure function: ready only when the scorer says it is ready and Kafka answered a
 * lag read within `staleMs` (so the pod is not ready while its group's lag cannot be seen).
 */
export function readiness(scorer: ScorerStatus, lag: LagState, now: number, staleMs: number): ProbeResult {
  const s = scorerReadiness(scorer);
  const reasons = [...s.reasons];
  const details = [...s.details];
  const why = lag.lastError ? `: ${lag.lastError}` : '';
  if (lag.lastSuccessAt === undefined) {
    reasons.push('lag-never-read');
    details.push(`no successful consumer-lag read yet${why}`);
  } else if (now - lag.lastSuccessAt > staleMs) {
    reasons.push('lag-stale');
    // No age in the text: it would change every call and so log every call (the age is sentiment_lag_read_age_seconds).
    details.push(`no successful consumer-lag read for over ${Math.round(staleMs / 1000)} s${why}`);
  }
  return { ok: reasons.length === 0, reasons, details };
}

/**
 * Logs a probe's failures when their details change, and its recovery: the kubelet calls every
 * 10 s, and an outage should leave one line with the details, not one per probe.
 */
export function probeLogger(logger: Logger, probe: string) {
  let last = '';
  return (result: ProbeResult) => {
    const key = result.details.join('\n');
    if (key === last) return;
    if (result.ok) logger.info({ probe }, `${probe} passes again`);
    else logger.warn({ probe, reasons: result.reasons, details: result.details }, `${probe} fails: ${result.details.join('; ')}`);
    last = key;
  };
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

  const reader = createLagReader(createKafka(config, quietKafkaLogger(logger)), config.GROUP_ID, config.INPUT_TOPICS, {
    timeoutMs: LAG_READ_TIMEOUT_MS,
    drain: { windowMs: config.DRAIN_WINDOW_MS, maxSeconds: config.DRAIN_MAX_SECONDS },
  });
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
  const logReady = probeLogger(logger, '/readyz');
  const logScorerReady = probeLogger(logger, '/scorer/readyz');
  const logScorerLive = probeLogger(logger, '/scorer/livez');
  const logged = (log: (r: ProbeResult) => void, result: ProbeResult) => {
    log(result);
    return result;
  };
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
    ready: async () => logged(logReady, readiness(await readScorerStatus(config), lag, Date.now(), staleMs)),
    scorerReady: async () => logged(logScorerReady, scorerReadiness(await readScorerStatus(config))),
    scorerLive: async () => logged(logScorerLive, scorerLiveness(await readScorerStatus(config))),
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
 * Replaces the lag and drain series with the snapshot's. Reset and set run in one synchronous
 * block, so a scrape never sees a half-written set, and partitions that went away stop being
 * exported. Drain series appear once the reader has a whole window of reads (snapshot.drain).
 */
function applyLag(metrics: SidecarMetrics, snapshot: LagSnapshot): void {
  metrics.lag.reset();
  metrics.lagSum.reset();
  metrics.topicOffset.reset();
  metrics.drainSeconds.reset();
  metrics.processingRate.reset();
  const group = { group: snapshot.groupId, consumergroup: snapshot.groupId };
  for (const p of snapshot.partitions) {
    metrics.lag.set({ ...group, topic: p.topic, partition: String(p.partition) }, p.lag);
    metrics.topicOffset.set({ topic: p.topic, partition: String(p.partition) }, Number(p.high));
  }
  for (const [topic, total] of snapshot.totals) metrics.lagSum.set({ ...group, topic }, total);
  for (const [topic, d] of snapshot.drain ?? []) {
    metrics.drainSeconds.set({ ...group, topic }, d.seconds);
    metrics.processingRate.set({ ...group, topic }, d.rate);
  }
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

async function readScorerStatus(config: SidecarConfig): Promise<ScorerStatus> {
  const url = `${config.SCORER_STATUS_URL}/status`;
  const res = await fetchScorer(url, config.SCORER_TIMEOUT_MS, 'application/json');
  if (res.status === undefined) return { reachable: false, reason: 'scorer-unreachable', detail: `scorer unreachable at ${url}: ${res.reason}` };
  return parseScorerStatus(res.status, res.text, url);
}

/**
 * The scorer's `/status` body: a JSON object with boolean `ready` and `live`. Anything else is a
 * scorer that answers but cannot be trusted, so it is neither ready nor live.
 */
export function parseScorerStatus(httpStatus: number, body: string, url: string): ScorerStatus {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { reachable: false, reason: 'scorer-bad-status', detail: `scorer ${url} answered ${httpStatus} without a JSON status` };
  }
  const { ready, live } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { ready?: unknown; live?: unknown };
  if (typeof ready !== 'boolean' || typeof live !== 'boolean') {
    return { reachable: false, reason: 'scorer-bad-status', detail: `scorer ${url} answered ${httpStatus} without boolean ready and live` };
  }
  return { reachable: true, httpStatus, ready, live };
}

interface Handlers {
  metrics(): Promise<{ contentType: string; body: string }>;
  ready(): Promise<ProbeResult>;
  scorerReady(): Promise<ProbeResult>;
  scorerLive(): Promise<ProbeResult>;
}

const ENDPOINTS = ['/metrics', '/healthz', '/readyz', '/scorer/readyz', '/scorer/livez'];

/**
 * GET-only endpoint. Limits are small because nothing legitimate sends a body, and the timeouts
 * stop a slow client from holding a socket; the scorer fetch inside /metrics is bounded separately.
 * Probe answers carry fixed words only (ProbeReason); their details are logged.
 */
async function startServer(config: SidecarConfig, handlers: Handlers): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024, connectionTimeout: 10_000, requestTimeout: 10_000 });
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await handlers.metrics();
    reply.header('content-type', contentType);
    return body;
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  const probeRoute = (path: string, run: () => Promise<ProbeResult>, pass: string, fail: string) =>
    app.get(path, async (_req, reply) => {
      const { ok, reasons } = await run();
      reply.code(ok ? 200 : 503);
      return ok ? { status: pass } : { status: fail, reasons };
    });
  probeRoute('/readyz', handlers.ready, 'ready', 'not ready');
  // The scorer container's own probes: its status endpoint is pod-local (127.0.0.1), which the
  // kubelet cannot reach, so the sidecar asks it and answers for it (helm/sentiment-stream/README.md).
  probeRoute('/scorer/readyz', handlers.scorerReady, 'ready', 'not ready');
  probeRoute('/scorer/livez', handlers.scorerLive, 'live', 'not live');
  app.setNotFoundHandler(async (req, reply) => {
    reply.code(404);
    return { error: 'not found', path: req.url.split('?')[0], endpoints: ENDPOINTS };
  });
  await app.listen({ host: config.METRICS_HOST, port: config.METRICS_PORT });
  return app;
}
