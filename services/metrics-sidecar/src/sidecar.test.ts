import { describe, expect, it } from 'vitest';
import { readiness } from './sidecar.js';

const now = 1_000_000;
const staleMs = 45_000;

describe('readiness', () => {
  it('is ready when the scorer is and a lag read succeeded recently', () => {
    expect(readiness({ ready: true }, { lastSuccessAt: now - 10_000, lastError: undefined }, now, staleMs)).toEqual({ ready: true, reasons: [] });
  });

  it('names every reason when neither holds', () => {
    const r = readiness({ ready: false, reason: 'scorer unreachable at http://127.0.0.1:9465/status: ECONNREFUSED' }, { lastSuccessAt: undefined, lastError: 'Connection error: connect ECONNREFUSED' }, now, staleMs);
    expect(r.ready).toBe(false);
    expect(r.reasons).toEqual([
      'scorer unreachable at http://127.0.0.1:9465/status: ECONNREFUSED',
      'no successful consumer-lag read yet: Connection error: connect ECONNREFUSED',
    ]);
  });

  it('fails on a stale lag read even while the scorer is ready (Kafka unreachable since)', () => {
    const r = readiness({ ready: true }, { lastSuccessAt: now - 60_000, lastError: 'timeout' }, now, staleMs);
    expect(r).toEqual({ ready: false, reasons: ['last successful consumer-lag read 60 s ago (limit 45 s): timeout'] });
  });

  it('tolerates a failed read while the last success is still recent (one blip is not an outage)', () => {
    expect(readiness({ ready: true }, { lastSuccessAt: now - 20_000, lastError: 'blip' }, now, staleMs).ready).toBe(true);
  });
});
