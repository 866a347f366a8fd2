import { describe, expect, it } from 'vitest';
import { backoffDelay, retry, sleep } from './retry.js';

describe('backoffDelay', () => {
  it('grows by the factor up to the cap, jitter taking at most its fraction', () => {
    const o = { initialMs: 100, maxMs: 1_000, random: () => 0 };
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, o))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(backoffDelay(2, { ...o, random: () => 1 })).toBe(160);
    expect(backoffDelay(2, { ...o, jitter: 0.5, random: () => 1 })).toBe(100);
  });
});

describe('retry', () => {
  it('retries failures until an attempt succeeds, reporting each wait', async () => {
    const waits: number[] = [];
    const result = await retry(
      async (n) => {
        if (n < 3) throw new Error(`fail ${n}`);
        return n;
      },
      { initialMs: 1, maxMs: 2, jitter: 0, onRetry: (_e, _n, d) => waits.push(d) },
    );
    expect(result).toBe(3);
    expect(waits).toEqual([1, 2]);
  });

  it('throws at once what is not retriable, and the last failure after maxAttempts', async () => {
    let calls = 0;
    const fatal = Object.assign(new Error('fenced'), { retriable: false });
    await expect(retry(async () => { calls++; throw fatal; }, { initialMs: 1, maxMs: 1, retriable: (e) => (e as { retriable?: boolean }).retriable !== false })).rejects.toBe(fatal);
    expect(calls).toBe(1);
    calls = 0;
    await expect(retry(async () => { calls++; throw new Error(`n${calls}`); }, { initialMs: 1, maxMs: 1, maxAttempts: 3 })).rejects.toThrow('n3');
    expect(calls).toBe(3);
  });

  it('stops waiting when its signal aborts', async () => {
    const ctl = new AbortController();
    const began = Date.now();
    const p = retry(async () => { throw new Error('down'); }, { initialMs: 60_000, maxMs: 60_000, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 20);
    await expect(p).rejects.toThrow('down');
    // The 60 s wait was cut short: the promise settled long before it.
    expect(Date.now() - began).toBeLessThan(30_000);
  });

  it('sleep resolves at once on an aborted signal', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(sleep(60_000, ctl.signal)).resolves.toBeUndefined();
  });
});
