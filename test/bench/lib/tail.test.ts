import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attributeTail, readJvmPauses, spread } from './tail.js';

describe('readJvmPauses', () => {
  it('reads G1 pauses (start = stamp - duration) inside the window, and nothing else', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-gc-')), 'gc.log');
    writeFileSync(
      file,
      [
        '[1000ms] Using G1',
        '[2030ms] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 6M->3M(64M) 30.000ms',
        '[5012ms] GC(1) Pause Young (Normal) (G1 Evacuation Pause) 7M->3M(64M) 12.500ms',
        '[9000ms] GC(2) Pause Remark 10M->9M(64M) 2.000ms',
        '[9500ms] GC(3) Concurrent Mark Cycle 45.000ms',
      ].join('\n'),
    );
    expect(readJvmPauses(file, 0, 6_000)).toEqual([
      { at: 2000, ms: 30 },
      { at: 4999.5, ms: 12.5 },
    ]);
    expect(readJvmPauses(file, 8_000, 10_000)).toEqual([{ at: 8998, ms: 2 }]);
    expect(readJvmPauses(join(tmpdir(), 'no-such-gc.log'), 0, 1)).toBeNull();
  });
});

describe('attributeTail', () => {
  it('finds the pause the slow messages lived through, beside its base rate', () => {
    // 1,000 messages, one every 10 ms, 20 ms each; those sent in [5000, 5200) take 300 ms: a broker pause at 5100.
    const sent = Array.from({ length: 1000 }, (_, i) => i * 10);
    const arrived = sent.map((s) => s + (s >= 5000 && s < 5200 ? 300 : 20));
    const t = attributeTail(sent, arrived, [{ at: 100, ms: 12 }], [{ at: 5100, ms: 250 }], [{ t: 7, gc_ms: 0, gc_max_ms: 0, loop_max_ms: 50, cpu_ms: 100 }]);
    expect(t.p99_ms).toBe(300);
    expect(t.slow).toBe(20);
    expect(t.broker_gc!.slow).toBe(1);
    expect(t.broker_gc!.all).toBeCloseTo(0.04, 2);
    expect(t.scorer_gc.slow).toBe(0);
    // Sent at 80, 90, 100 and 110 ms: their 20 ms overlap the pause at 100-112.
    expect(t.scorer_gc.all).toBe(0.004);
    expect(t.scorer_loop.slow).toBe(0);
    expect(t.scorer_loop.all).toBeCloseTo(0.1, 2);
    expect(t.none_slow).toBe(0);
  });

  it('says so when nothing it watches explains the tail, and leaves the broker out without a GC log', () => {
    const sent = [0, 10, 20, 30];
    const t = attributeTail(sent, [5, 15, 25, 500], [], null, []);
    expect(t.broker_gc).toBeNull();
    expect(t.none_slow).toBe(1);
  });
});

it('spread: min, median, max of the finite values', () => {
  expect(spread([3, NaN, 1, 2, 10])).toEqual({ min: 1, median: 2.5, max: 10, n: 4 });
  expect(spread([]).n).toBe(0);
});
