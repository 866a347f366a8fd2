import { describe, expect, it } from 'vitest';
import { OffsetTracker } from './offset-tracker.js';

function trackRange(t: OffsetTracker, topic: string, partition: number, from: number, to: number) {
  for (let o = from; o <= to; o++) t.track(topic, partition, String(o));
}

describe('OffsetTracker', () => {
  it('commits nothing until the first offset is acknowledged', () => {
    const t = new OffsetTracker();
    trackRange(t, 'a', 0, 10, 12);
    t.ack('a', 0, '11');
    t.ack('a', 0, '12');
    expect(t.takeCommittable()).toEqual([]);
    expect(t.inFlight).toBe(3);
  });

  it('advances to the highest offset whose predecessors are all acknowledged', () => {
    const t = new OffsetTracker();
    trackRange(t, 'a', 0, 10, 14);
    t.ack('a', 0, '12');
    t.ack('a', 0, '10');
    expect(t.takeCommittable()).toEqual([{ topic: 'a', partition: 0, offset: '11' }]);
    t.ack('a', 0, '11');
    t.ack('a', 0, '14');
    expect(t.takeCommittable()).toEqual([{ topic: 'a', partition: 0, offset: '13' }]);
    expect(t.inFlight).toBe(2); // 13 is pending, and 14 waits behind it
  });

  it('reports each advance once and keeps partitions apart', () => {
    const t = new OffsetTracker();
    trackRange(t, 'a', 0, 0, 1);
    trackRange(t, 'a', 1, 0, 1);
    trackRange(t, 'b:x', 0, 5, 5);
    t.ack('a', 1, '0');
    t.ack('b:x', 0, '5');
    expect(t.takeCommittable()).toEqual([
      { topic: 'a', partition: 1, offset: '1' },
      { topic: 'b:x', partition: 0, offset: '6' },
    ]);
    expect(t.takeCommittable()).toEqual([]);
  });

  it('handles gaps in offsets (compacted topics, transaction markers)', () => {
    const t = new OffsetTracker();
    for (const o of ['3', '7', '20']) t.track('a', 0, o);
    t.ack('a', 0, '3');
    t.ack('a', 0, '7');
    expect(t.takeCommittable()).toEqual([{ topic: 'a', partition: 0, offset: '8' }]);
  });

  it('keeps int64 offsets exact', () => {
    const t = new OffsetTracker();
    t.track('a', 0, '9007199254740993');
    t.ack('a', 0, '9007199254740993');
    expect(t.takeCommittable()).toEqual([{ topic: 'a', partition: 0, offset: '9007199254740994' }]);
  });

  it('refuses offsets tracked out of order while earlier ones are pending', () => {
    const t = new OffsetTracker();
    t.track('a', 0, '5');
    expect(() => t.track('a', 0, '5')).toThrow(/out of order/);
  });

  it('starts afresh when an idle partition is delivered again from an earlier offset', () => {
    const t = new OffsetTracker();
    trackRange(t, 'a', 0, 5, 6);
    t.ack('a', 0, '5');
    t.ack('a', 0, '6');
    t.track('a', 0, '3');
    t.ack('a', 0, '3');
    expect(t.takeCommittable()).toEqual([{ topic: 'a', partition: 0, offset: '4' }]);
  });

  it('ignores acknowledgements for forgotten partitions', () => {
    const t = new OffsetTracker();
    t.track('a', 0, '1');
    t.forget('a', 0);
    t.ack('a', 0, '1');
    expect(t.takeCommittable()).toEqual([]);
    expect(t.inFlight).toBe(0);
  });

  it('stays correct across compaction of a long backlog', () => {
    const t = new OffsetTracker();
    trackRange(t, 'a', 0, 0, 9_999);
    for (let o = 9_999; o >= 5_000; o--) t.ack('a', 0, String(o));
    expect(t.takeCommittable()).toEqual([]);
    for (let o = 0; o < 5_000; o++) t.ack('a', 0, String(o));
    expect(t.takeCommittable()).toEqual([{ topic: 'a', partition: 0, offset: '10000' }]);
    expect(t.inFlight).toBe(0);
    t.track('a', 0, '10000');
    expect(t.inFlight).toBe(1);
  });
});
