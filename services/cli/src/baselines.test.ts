import { describe, expect, it } from 'vitest';
import { baselineClassifier } from './baselines.js';

describe('baselineClassifier', () => {
  const binary = ['negative', 'positive'];
  const three = ['negative', 'neutral', 'positive'];

  it('maps AFINN score signs (ties to positive when binary, neutral when 3-class)', () => {
    const b = baselineClassifier('afinn', binary);
    const t = baselineClassifier('afinn', three);
    expect(b('i love this wonderful film')).toBe(1);
    expect(b('a horrible , awful mess')).toBe(0);
    expect(b('the table is made of wood')).toBe(1); // score 0
    expect(t('the table is made of wood')).toBe(1); // neutral
    expect(t('a horrible , awful mess')).toBe(0);
    expect(t('i love this wonderful film')).toBe(2);
  });

  it("maps VADER's compound with the ±0.05 thresholds for 3 classes", () => {
    const t = baselineClassifier('vader', three);
    const b = baselineClassifier('vader', binary);
    expect(t('I love it!')).toBe(2);
    expect(t('I hate it.')).toBe(0);
    expect(t('It is a table.')).toBe(1);
    expect(b('It is a table.')).toBe(1); // compound 0 -> positive
    expect(b('I hate it.')).toBe(0);
  });

  it('follows the label order of the model', () => {
    expect(baselineClassifier('vader', ['positive', 'negative'])('I hate it.')).toBe(1);
  });

  it('refuses labels it cannot map', () => {
    expect(() => baselineClassifier('vader', ['sad', 'happy'])).toThrow('--baseline vader needs labels negative/positive or negative/neutral/positive; the model has sad/happy');
  });
});
