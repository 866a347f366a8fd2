import { describe, expect, it } from 'vitest';
import { belowRecorded, parseCases, runSuite, sha256, type Scored } from './behaviour.js';

const FILE = [
  '{"capability": "negation", "type": "label", "text": "not bad", "expect": "positive"}',
  '{"capability": "neutral", "type": "label", "text": "it is tuesday", "expect": "neutral"}',
  '',
  '{"capability": "intensifiers", "type": "direction", "text": "good", "variant": "very good", "expect": "up"}',
  '{"capability": "intensifiers", "type": "direction", "text": "bad", "variant": "very bad", "expect": "down"}',
  '{"capability": "inv_names", "type": "invariance", "text": "John was great", "variant": "Priya was great"}',
].join('\n');

/** A fake scorer for the pure logic: a table of text -> scored. */
const table = (t: Record<string, Scored>) => async (texts: string[]) => texts.map((x) => t[x] ?? { label: 'neutral', margin: 0 });

describe('parseCases', () => {
  it('reads cases with their line numbers and skips blank lines', () => {
    const cases = parseCases(FILE, 'f');
    expect(cases.map((c) => [c.capability, c.line])).toEqual([
      ['negation', 1],
      ['neutral', 2],
      ['intensifiers', 4],
      ['intensifiers', 5],
      ['inv_names', 6],
    ]);
  });

  it('rejects a malformed case with one line naming the file and line', () => {
    expect(() => parseCases('{"capability": "x", "type": "label", "text": "t", "expect": "up"}', 'f')).toThrow('f:1: a label case needs "expect": positive, negative or neutral');
    expect(() => parseCases('\n{"capability": "x", "type": "invariance", "text": "t"}', 'f')).toThrow('f:2: a invariance case needs a "variant" string');
    expect(() => parseCases('{nope', 'f')).toThrow(/^f:1: not JSON/);
    expect(() => parseCases('\n\n', 'f')).toThrow('f: no cases');
  });
});

describe('runSuite', () => {
  const cases = parseCases(FILE, 'f');
  const scores = {
    'not bad': { label: 'positive', margin: 1 },
    'it is tuesday': { label: 'neutral', margin: 0 },
    good: { label: 'positive', margin: 2 },
    'very good': { label: 'positive', margin: 2 }, // no change is not "up"
    bad: { label: 'negative', margin: -2 },
    'very bad': { label: 'negative', margin: -3 },
    'John was great': { label: 'positive', margin: 2 },
    'Priya was great': { label: 'negative', margin: -1 },
  };

  it('checks label, direction (strictly) and invariance cases, per capability', async () => {
    const r = await runSuite(cases, ['negative', 'neutral', 'positive'], table(scores));
    expect(r.capabilities).toEqual({
      negation: { passed: 1, total: 1, rate: 1 },
      neutral: { passed: 1, total: 1, rate: 1 },
      intensifiers: { passed: 1, total: 2, rate: 0.5 },
      inv_names: { passed: 0, total: 1, rate: 0 },
    });
    expect(r.overall).toEqual({ passed: 3, total: 5, rate: 0.6 });
    expect(r.failures.map((f) => f.line)).toEqual([4, 6]);
    expect(r.failures[1]!.why).toBe('label changed: positive (margin 2.000) -> negative (margin -1.000)');
  });

  it('leaves neutral label cases out for a 2-class model', async () => {
    const r = await runSuite(cases, ['negative', 'positive'], table(scores));
    expect(r.capabilities.neutral).toBeUndefined();
    expect(r.overall.total).toBe(4);
  });

  it('compares with recorded rates, and refuses rates recorded for another cases file', async () => {
    const r = await runSuite(cases, ['negative', 'neutral', 'positive'], table(scores));
    const sha = sha256(FILE);
    expect(belowRecorded(r, { cases_sha256: sha, rates: { negation: 1, intensifiers: 0.5, overall: 0.6 } }, sha)).toEqual([]);
    expect(belowRecorded(r, { cases_sha256: sha, rates: { intensifiers: 1, emoji: 0.5 } }, sha)).toEqual([
      'intensifiers: 1/2 = 0.500, below the recorded 1.000',
      'emoji: no applicable case now, recorded 0.500',
    ]);
    expect(belowRecorded(r, { cases_sha256: 'f'.repeat(64), rates: {} }, sha)[0]).toMatch(/the cases file changed since the rates were recorded/);
  });
});
