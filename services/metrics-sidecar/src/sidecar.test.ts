import { describe, expect, it } from 'vitest';
import { parseScorerStatus, probeLogger, readiness, scorerLiveness, scorerReadiness, type ScorerStatus } from './sidecar.js';

const now = 1_000_000;
const staleMs = 45_000;
const URL_ = 'http://127.0.0.1:9465/status';
const up = (httpStatus: number, ready: boolean, live: boolean): ScorerStatus => ({ reachable: true, httpStatus, ready, live });
const down: ScorerStatus = { reachable: false, reason: 'scorer-unreachable', detail: `scorer unreachable at ${URL_}: ECONNREFUSED` };
const fresh = { lastSuccessAt: now - 10_000, lastError: undefined };

describe('readiness (/readyz)', () => {
  it('is ready when the scorer is and a lag read succeeded recently', () => {
    expect(readiness(up(200, true, true), fresh, now, staleMs)).toEqual({ ok: true, reasons: [], details: [] });
  });

  it('names every failed check with a fixed code; the details (URL, Kafka error) are only for the log', () => {
    const r = readiness(down, { lastSuccessAt: undefined, lastError: 'Connection error: connect ECONNREFUSED 10.0.0.7:9092' }, now, staleMs);
    expect(r.ok).toBe(false);
    expect(r.reasons).toEqual(['scorer-unreachable', 'lag-never-read']);
    expect(r.details).toEqual([`scorer unreachable at ${URL_}: ECONNREFUSED`, 'no successful consumer-lag read yet: Connection error: connect ECONNREFUSED 10.0.0.7:9092']);
    // What /readyz returns is the codes: nothing of the URL, the address or the error text.
    expect(JSON.stringify(r.reasons)).not.toMatch(/127\.0\.0\.1|10\.0\.0\.7|ECONNREFUSED|http/);
  });

  it('fails on a stale lag read even while the scorer is ready (Kafka unreachable since)', () => {
    const r = readiness(up(200, true, true), { lastSuccessAt: now - 60_000, lastError: 'timeout' }, now, staleMs);
    expect(r).toEqual({ ok: false, reasons: ['lag-stale'], details: ['no successful consumer-lag read for over 45 s: timeout'] });
    // The detail does not change from one probe call to the next, so it is logged once per outage.
    expect(readiness(up(200, true, true), { lastSuccessAt: now - 60_000, lastError: 'timeout' }, now + 10_000, staleMs)).toEqual(r);
  });

  it('tolerates a failed read while the last success is still recent (one blip is not an outage)', () => {
    expect(readiness(up(200, true, true), { lastSuccessAt: now - 20_000, lastError: 'blip' }, now, staleMs).ok).toBe(true);
  });

  it('is not ready while the scorer loads its model (503, ready=false), whatever the lag reads say', () => {
    expect(readiness(up(503, false, true), fresh, now, staleMs).reasons).toEqual(['scorer-not-ready']);
  });
});

describe('the scorer container’s probes (/scorer/readyz, /scorer/livez)', () => {
  it('readiness follows the scorer’s ready flag and HTTP status', () => {
    expect(scorerReadiness(up(200, true, true)).ok).toBe(true);
    expect(scorerReadiness(up(503, false, true))).toEqual({ ok: false, reasons: ['scorer-not-ready'], details: ['scorer /status answered 503 with ready=false'] });
    // ready=true with a non-200 answer is not trusted as ready.
    expect(scorerReadiness(up(500, true, true)).reasons).toEqual(['scorer-not-ready']);
    expect(scorerReadiness(down).reasons).toEqual(['scorer-unreachable']);
  });

  it('liveness follows the live flag only: a scorer that is not ready (loading, rejoining) is still live', () => {
    expect(scorerLiveness(up(503, false, true))).toEqual({ ok: true, reasons: [], details: [] });
    expect(scorerLiveness(up(503, false, false))).toEqual({ ok: false, reasons: ['scorer-not-live'], details: ['scorer /status answered 503 with live=false'] });
    expect(scorerLiveness(up(200, true, false)).reasons).toEqual(['scorer-not-live']);
  });

  it('liveness fails when the scorer does not answer (a stuck event loop needs the restart too)', () => {
    const stuck: ScorerStatus = { reachable: false, reason: 'scorer-unreachable', detail: 'scorer unreachable at x: no answer within 2000 ms' };
    expect(scorerLiveness(stuck).reasons).toEqual(['scorer-unreachable']);
  });
});

describe('parsing the scorer’s /status', () => {
  it('reads the two booleans whatever the HTTP status', () => {
    expect(parseScorerStatus(503, '{"ready":false,"live":true,"model":null}', URL_)).toEqual(up(503, false, true));
    expect(parseScorerStatus(200, '{"ready":true,"live":true}', URL_)).toEqual(up(200, true, true));
  });

  it.each([
    ['<html>bad gateway</html>', 'without a JSON status'],
    ['null', 'without boolean ready and live'],
    ['{"ready":true}', 'without boolean ready and live'],
    ['{"ready":"yes","live":true}', 'without boolean ready and live'],
  ])('an answer it cannot trust (%s) is a bad status, neither ready nor live', (body, detail) => {
    const s = parseScorerStatus(200, body, URL_);
    expect(s).toMatchObject({ reachable: false, reason: 'scorer-bad-status' });
    expect(s.reachable === false && s.detail).toContain(detail);
    expect(scorerReadiness(s).ok).toBe(false);
    expect(scorerLiveness(s).reasons).toEqual(['scorer-bad-status']);
  });
});

describe('probe logging', () => {
  it('logs the details once per change of the failure and once on recovery, not once per probe call', () => {
    const lines: [string, string][] = [];
    const rec = (level: string) => (_obj: object, msg?: string) => void lines.push([level, msg ?? '']);
    const log = probeLogger({ debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') }, '/readyz');
    const ok = readiness(up(200, true, true), fresh, now, staleMs);
    const scorerDown = readiness(down, fresh, now, staleMs);
    const alsoStale = readiness(down, { lastSuccessAt: now - 60_000, lastError: 'timeout' }, now, staleMs);
    log(ok); // healthy from the start: nothing to say
    for (let i = 0; i < 5; i++) log(scorerDown); // the kubelet every 10 s
    log(alsoStale);
    log(readiness(down, { lastSuccessAt: now - 60_000, lastError: 'timeout' }, now + 30_000, staleMs)); // same details later
    log(ok);
    log(ok);
    expect(lines).toEqual([
      ['warn', `/readyz fails: scorer unreachable at ${URL_}: ECONNREFUSED`],
      ['warn', `/readyz fails: scorer unreachable at ${URL_}: ECONNREFUSED; no successful consumer-lag read for over 45 s: timeout`],
      ['info', '/readyz passes again'],
    ]);
  });
});
