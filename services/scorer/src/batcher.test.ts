import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from './batcher.js';

describe('Batcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function recording(maxSize: number, maxWaitMs: number) {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    let hold = false;
    const crashes: [string, number[]][] = [];
    const batcher = new Batcher<number>(
      { maxSize, maxWaitMs },
      async (batch) => {
        batches.push(batch);
        if (batch.includes(13)) throw new Error('unlucky');
        if (hold) await new Promise<void>((r) => (release = r));
      },
      (err, batch) => crashes.push([(err as Error).message, batch]),
    );
    return { batcher, batches, crashes, holdNext: () => (hold = true), release: () => { hold = false; release(); } };
  }

  it('cuts a full batch at once', () => {
    const { batcher, batches } = recording(3, 1000);
    batcher.add([1, 2, 3, 4]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('cuts a partial batch when its oldest item has waited maxWaitMs', async () => {
    const { batcher, batches } = recording(10, 50);
    batcher.add([1]);
    await vi.advanceTimersByTimeAsync(30);
    batcher.add([2]);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(batches).toEqual([[1, 2]]);
  });

  it('with maxWaitMs 0 sends every arrival straight away', () => {
    const { batcher, batches } = recording(10, 0);
    batcher.add([1, 2]);
    expect(batches).toEqual([[1, 2]]);
  });

  it('runs one batch at a time and lets the queue fill meanwhile, keeping order', async () => {
    const r = recording(4, 0);
    r.holdNext();
    r.batcher.add([1]);
    r.batcher.add([2, 3, 4, 5, 6]);
    expect(r.batches).toEqual([[1]]);
    expect(r.batcher.queued).toBe(5);
    r.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.batches).toEqual([[1], [2, 3, 4, 5], [6]]);
    expect(r.batcher.queued).toBe(0);
  });

  it('with concurrency 2, cuts a second batch while one runs only once it is full, and never a third', async () => {
    const batches: number[][] = [];
    const releases: (() => void)[] = [];
    const batcher = new Batcher<number>(
      { maxSize: 3, maxWaitMs: 0, concurrency: 2 },
      (batch) => {
        batches.push(batch);
        return new Promise<void>((r) => releases.push(r));
      },
      () => undefined,
    );
    batcher.add([1]);
    batcher.add([2, 3]);
    await vi.advanceTimersByTimeAsync(10);
    expect(batches).toEqual([[1]]); // [2, 3] is not full: it waits for the running batch
    batcher.add([4, 5, 6, 7, 8]);
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1], [2, 3, 4]]); // full: handed over while [1] runs
    expect(batcher.queued).toBe(4); // a full [5, 6, 7] waits: two are in flight
    releases[0]!();
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6, 7]]);
    releases[1]!();
    releases[2]!();
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6, 7], [8]]);
    releases[3]!();
    await expect(batcher.idle()).resolves.toBeUndefined();
  });

  it('hands a throwing batch to the crash handler and goes on with the next', async () => {
    const r = recording(2, 0);
    r.batcher.add([12, 13, 14]);
    await vi.advanceTimersByTimeAsync(0);
    expect(r.crashes).toEqual([['unlucky', [12, 13]]]);
    expect(r.batches).toEqual([[12, 13], [14]]);
    await expect(r.batcher.idle()).resolves.toBeUndefined();
  });

  it('idle() waits for the queue and the running batch', async () => {
    const r = recording(1, 0);
    r.holdNext();
    r.batcher.add([1, 2]);
    let idle = false;
    void r.batcher.idle().then(() => (idle = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(idle).toBe(false);
    r.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(idle).toBe(true);
    expect(r.batches).toEqual([[1], [2]]);
  });
});
