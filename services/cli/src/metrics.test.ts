import { describe, expect, it } from 'vitest';
import { confusionMatrix, formatReport, report } from './metrics.js';

describe('confusionMatrix', () => {
  it('counts gold rows against predicted columns', () => {
    expect(confusionMatrix([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 3)).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 0],
    ]);
  });

  it('rejects mismatched lengths and out-of-range labels', () => {
    expect(() => confusionMatrix([0], [0, 1], 2)).toThrow('1 gold labels but 2 predictions');
    expect(() => confusionMatrix([0, 2], [0, 1], 2)).toThrow('label out of range at 1');
  });
});

describe('report', () => {
  // Worked by hand. Gold totals: neg 10, neu 5, pos 5; predicted totals: neg 8, neu 6, pos 6.
  const confusion = [
    [6, 2, 2],
    [1, 3, 1],
    [1, 1, 3],
  ];
  const r = report(confusion, ['negative', 'neutral', 'positive']);

  it('computes accuracy and per-class precision/recall/F1', () => {
    expect(r.n).toBe(20);
    expect(r.accuracy).toBeCloseTo(12 / 20, 12);
    expect(r.per_class.negative).toEqual({ precision: 6 / 8, recall: 6 / 10, f1: expect.closeTo(2 / 3, 12), support: 10 });
    expect(r.per_class.neutral!.precision).toBeCloseTo(3 / 6, 12);
    expect(r.per_class.neutral!.recall).toBeCloseTo(3 / 5, 12);
    expect(r.per_class.neutral!.f1).toBeCloseTo(6 / 11, 12);
    expect(r.per_class.positive!.f1).toBeCloseTo(6 / 11, 12);
  });

  it('macro averages are unweighted means over classes', () => {
    expect(r.macro_recall).toBeCloseTo((0.6 + 0.6 + 0.6) / 3, 12);
    expect(r.macro_precision).toBeCloseTo((0.75 + 0.5 + 0.5) / 3, 12);
    expect(r.macro_f1).toBeCloseTo((2 / 3 + 6 / 11 + 6 / 11) / 3, 12);
    expect(r.confusion).toEqual(confusion);
  });

  it('counts a class that is never predicted as precision 0, not NaN', () => {
    const z = report([[5, 0], [5, 0]], ['negative', 'positive']);
    expect(z.per_class.positive).toEqual({ precision: 0, recall: 0, f1: 0, support: 5 });
    expect(z.per_class.negative!.precision).toBe(0.5);
    expect(z.macro_f1).toBeCloseTo((2 / 3) / 2, 12);
    expect(z.accuracy).toBe(0.5);
  });

  it('formats a readable report', () => {
    const text = formatReport(r, ['negative', 'neutral', 'positive']);
    expect(text).toContain('accuracy      0.6000');
    expect(text).toMatch(/negative\s+0\.7500\s+0\.6000\s+0\.6667\s+10/);
    expect(text).toMatch(/positive\s+1\s+1\s+3\n$/);
  });
});
