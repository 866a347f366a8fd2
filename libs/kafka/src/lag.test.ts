import { describe, expect, it } from 'vitest';
import { computeLag, totalLag } from './lag.js';

const w = (partition: number, low: string, high: string, topic = 't') => ({ topic, partition, low, high });
const c = (partition: number, offset: string, topic = 't') => ({ topic, partition, offset });

describe('consumer lag arithmetic', () => {
  it('is high watermark minus committed offset', () => {
    expect(computeLag([w(0, '0', '100'), w(1, '0', '40')], [c(0, '60'), c(1, '40')])).toEqual([
      { topic: 't', partition: 0, lag: 40, position: '60', high: '100', uncommitted: false },
      { topic: 't', partition: 1, lag: 0, position: '40', high: '40', uncommitted: false },
    ]);
  });

  it('counts from the low watermark where the group has committed nothing (it reads from the beginning)', () => {
    expect(computeLag([w(0, '25', '100'), w(1, '0', '7')], [c(0, '-1')])).toEqual([
      { topic: 't', partition: 0, lag: 75, position: '25', high: '100', uncommitted: true },
      { topic: 't', partition: 1, lag: 7, position: '0', high: '7', uncommitted: true },
    ]);
  });

  it('does not count records retention deleted before the group read them', () => {
    expect(computeLag([w(0, '500', '600')], [c(0, '100')])[0]).toMatchObject({ lag: 100, position: '500', uncommitted: false });
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
