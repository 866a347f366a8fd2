import { describe, expect, it } from 'vitest';
import { DrainWindow, committedProgress, computeLag, estimateDrain, totalLag, type LagSnapshot } from './lag.js';

const w = (partition: number, low: string, high: string, topic = 't') => ({ topic, partition, low, high });
const c = (partition: number, offset: string, topic = 't') => ({ topic, partition, offset });

describe('consumer lag arithmetic', () => {
  it('is high watermark minus committed offset', () => {
    expect(computeLag([w(0, '0', '100'), w(1, '0', '40')], [c(0, '60'), c(1, '40')])).toEqual([
      { topic: 't', partition: 0, lag: 40, position: '60', high: '100', uncommitted: false, committed: '60' },
      { topic: 't', partition: 1, lag: 0, position: '40', high: '40', uncommitted: false, committed: '40' },
    ]);
  });

  it('counts from the low watermark where the group has committed nothing (it reads from the beginning)', () => {
    expect(computeLag([w(0, '25', '100'), w(1, '0', '7')], [c(0, '-1')])).toEqual([
      { topic: 't', partition: 0, lag: 75, position: '25', high: '100', uncommitted: true, committed: '-1' },
      { topic: 't', partition: 1, lag: 7, position: '0', high: '7', uncommitted: true, committed: '-1' },
    ]);
  });

  it('does not count records retention deleted before the group read them', () => {
    expect(computeLag([w(0, '500', '600')], [c(0, '100')])[0]).toMatchObject({ lag: 100, position: '500', uncommitted: false });
  });

  it('adds no transaction marker back: a group that committed past the marker ending its last transaction reads 0', () => {
    // Partition 0: records 0..9 in one transaction, its commit marker at offset 10, so the high
    // watermark (and last stable offset) is 11. Committing 11 (past the marker) is caught up;
    // committing 10 (last record + 1) leaves exactly the marker, which is what the group did not commit past.
    expect(computeLag([w(0, '0', '11'), w(1, '0', '11')], [c(0, '11'), c(1, '10')]).map((p) => p.lag)).toEqual([0, 1]);
  });

  it('is never negative when a commit leads a stale watermark', () => {
    expect(computeLag([w(0, '0', '10')], [c(0, '12')])[0]?.lag).toBe(0);
  });

  it('is exact for offsets beyond 2^53 (int64 offsets are done in BigInt)', () => {
    expect(computeLag([w(0, '0', '9007199254741000')], [c(0, '9007199254740993')])[0]?.lag).toBe(7);
  });

  it('keeps topics apart and sorts by topic then partition', () => {
    const lag = computeLag([w(1, '0', '5', 'b'), w(0, '0', '3', 'b'), w(0, '0', '9', 'a')], [c(0, '1', 'b'), c(0, '9', 'a')]);
    expect(lag.map((p) => [p.topic, p.partition, p.lag])).toEqual([
      ['a', 0, 0],
      ['b', 0, 2],
      ['b', 1, 5],
    ]);
    expect(totalLag(lag, ['a', 'b', 'empty'])).toEqual(new Map([['a', 0], ['b', 7], ['empty', 0]]));
  });
});

/** A read of topic `t` at `at` ms: partition -> [low, high, committed]. */
function read(at: number, parts: Record<number, [string, string, string]>, topics = ['t']): LagSnapshot {
  const partitions = computeLag(
    Object.entries(parts).map(([p, [low, high]]) => w(Number(p), low, high)),
    Object.entries(parts).map(([p, [, , committed]]) => c(Number(p), committed)),
  );
  return { groupId: 'g', partitions, totals: totalLag(partitions, topics), at };
}

describe('time to drain', () => {
  const MAX = 86_400;

  it('is lag divided by the committed-offset rate over the window', () => {
    // 60 s apart: partition 0 committed 600 -> 1200, partition 1 0 -> 600: 1200 offsets in 60 s = 20/s.
    const before = read(0, { 0: ['0', '5000', '600'], 1: ['0', '3000', '0'] });
    const after = read(60_000, { 0: ['0', '5000', '1200'], 1: ['0', '3000', '600'] });
    const d = estimateDrain(before, after, MAX).get('t')!;
    expect(d.lag).toBe(3800 + 2400);
    expect(d.rate).toBe(20);
    expect(d.seconds).toBe((3800 + 2400) / 20);
  });

  it('is 0 with no lag (progress or not), and the cap with lag but no progress', () => {
    const idle = read(0, { 0: ['0', '100', '100'] });
    expect(estimateDrain(idle, read(60_000, { 0: ['0', '100', '100'] }), MAX).get('t')).toEqual({ lag: 0, rate: 0, seconds: 0 });
    const stalled = estimateDrain(read(0, { 0: ['0', '500', '100'] }), read(60_000, { 0: ['0', '900', '100'] }), MAX).get('t')!;
    expect(stalled).toEqual({ lag: 800, rate: 0, seconds: MAX });
    // A group that has committed nothing yet (scorer not started) is stalled too.
    expect(estimateDrain(read(0, { 0: ['0', '500', '-1'] }), read(60_000, { 0: ['0', '500', '-1'] }), MAX).get('t')?.seconds).toBe(MAX);
  });

  it('never exceeds the cap, so it stays finite for Prometheus and KEDA', () => {
    // 1 offset in 60 s against 10^9 of lag would be 6e10 s.
    const d = estimateDrain(read(0, { 0: ['0', '1000000001', '0'] }), read(60_000, { 0: ['0', '1000000001', '1'] }), MAX).get('t')!;
    expect(d.seconds).toBe(MAX);
    expect(Number.isFinite(d.seconds)).toBe(true);
  });

  it('counts a new group from the low watermark it starts at', () => {
    // No commit at first (starts at low = 400), then 1000: 600 offsets of progress, not 1001.
    const d = estimateDrain(read(0, { 0: ['400', '2000', '-1'] }), read(30_000, { 0: ['400', '2000', '1000'] }), MAX).get('t')!;
    expect(d.rate).toBe(20);
    expect(d.seconds).toBe(1000 / 20);
  });

  it('does not mistake retention moving the low watermark under a stalled group for progress', () => {
    const before = read(0, { 0: ['500', '900', '100'] });
    const after = read(60_000, { 0: ['800', '900', '100'] });
    expect(committedProgress(before.partitions[0]!, after.partitions[0]!)).toBe(0n);
    expect(estimateDrain(before, after, MAX).get('t')).toEqual({ lag: 100, rate: 0, seconds: MAX });
  });

  it('does not count an offset reset backwards as progress, or as negative progress', () => {
    const d = estimateDrain(read(0, { 0: ['0', '1000', '900'], 1: ['0', '1000', '0'] }), read(10_000, { 0: ['0', '1000', '100'], 1: ['0', '1000', '100'] }), MAX).get('t')!;
    expect(d.rate).toBe(10); // partition 1's 100 only
  });

  it('keeps topics apart; a topic with no partitions reads 0', () => {
    const parts = (a: string, b: string) => {
      const partitions = computeLag([w(0, '0', '1000', 'a'), w(0, '0', '1000', 'b')], [c(0, a, 'a'), c(0, b, 'b')]);
      return partitions;
    };
    const before: LagSnapshot = { groupId: 'g', partitions: parts('0', '0'), totals: totalLag(parts('0', '0'), ['a', 'b', 'empty']), at: 0 };
    const afterParts = parts('500', '0');
    const after: LagSnapshot = { groupId: 'g', partitions: afterParts, totals: totalLag(afterParts, ['a', 'b', 'empty']), at: 10_000 };
    const d = estimateDrain(before, after, MAX);
    expect(d.get('a')).toEqual({ lag: 500, rate: 50, seconds: 10 });
    expect(d.get('b')).toEqual({ lag: 1000, rate: 0, seconds: MAX });
    expect(d.get('empty')).toEqual({ lag: 0, rate: 0, seconds: 0 });
  });

  it('refuses a baseline that is not before the latest read', () => {
    expect(() => estimateDrain(read(5, {}), read(5, {}), MAX)).toThrow('needs a baseline read before the latest one');
  });
});

describe('drain window', () => {
  const window = () => new DrainWindow({ windowMs: 60_000, maxSeconds: 3_600 });
  // Reads every 15 s; the group commits 150 offsets per read on one partition (10/s), lag 3000.
  const steady = (i: number) => read(i * 15_000, { 0: ['0', String(3000 + 150 * i), String(150 * i)] });

  it('gives no estimate until the reads span a whole window, then one over the last window', () => {
    const d = window();
    for (let i = 0; i < 4; i++) expect(d.add(steady(i)), `read ${i}`).toBeUndefined();
    expect(d.add(steady(4))?.get('t')).toEqual({ lag: 3000, rate: 10, seconds: 300 });
    expect(d.add(steady(9))?.get('t')).toEqual({ lag: 3000, rate: 10, seconds: 300 });
  });

  it('measures over the last window only: a stall shows once the window has passed it', () => {
    const d = window();
    for (let i = 0; i <= 4; i++) d.add(steady(i));
    // The group stops committing at read 4 (offset 600) while lag stays.
    const stalled = (i: number) => read(i * 15_000, { 0: ['0', '3600', '600'] });
    expect(d.add(stalled(5))?.get('t')?.rate).toBe(450 / 60); // 150 -> 600 still in the window
    for (let i = 6; i < 8; i++) d.add(stalled(i));
    expect(d.add(stalled(8))?.get('t')).toEqual({ lag: 3000, rate: 0, seconds: 3_600 });
  });

  it('uses the newest read at least a window old as the baseline across gaps (failed reads)', () => {
    const d = window();
    d.add(steady(0));
    d.add(steady(1));
    // Reads failed for ten minutes; the next success is measured against read 1.
    expect(d.add(steady(41))?.get('t')).toEqual({ lag: 3000, rate: 10, seconds: 300 });
  });

  it('starts over when the clock steps back instead of measuring a negative interval', () => {
    const d = window();
    for (let i = 0; i <= 4; i++) d.add(steady(i));
    expect(d.add(read(1_000, { 0: ['0', '3000', '0'] }))).toBeUndefined();
  });

  it('refuses a window or cap that is not positive', () => {
    expect(() => new DrainWindow({ windowMs: 0, maxSeconds: 1 })).toThrow('positive windowMs and maxSeconds');
  });
});
