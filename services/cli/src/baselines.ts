import Sentiment from 'sentiment';
import vader from 'vader-sentiment';
import { CliError } from './errors.js';

export const BASELINES = ['afinn', 'vader'] as const;
export type BaselineName = (typeof BASELINES)[number];

/**
 * A lexicon baseline mapped onto a model's labels (see README, "Baselines"). The labels must be
 * negative/positive or negative/neutral/positive, in any order (matched by name, any case).
 *
 * - afinn (`sentiment` package): s = analyze(text).score, the sum of AFINN word valences.
 *   Binary: s >= 0 -> positive (ties, including texts with no AFINN word, go to positive).
 *   3-class: s > 0 positive, s < 0 negative, s == 0 neutral.
 * - vader (`vader-sentiment`): c = polarity_scores(text).compound in [-1, 1].
 *   Binary: c >= 0 -> positive (c == 0 goes to positive).
 *   3-class: c >= 0.05 positive, c <= -0.05 negative, else neutral (VADER's published thresholds).
 *
 * Returns text -> label index.
 */
export function baselineClassifier(name: BaselineName, labels: readonly string[]): (text: string) => number {
  const index = (l: string) => labels.findIndex((x) => x.toLowerCase() === l);
  const neg = index('negative');
  const neu = index('neutral');
  const pos = index('positive');
  const binary = labels.length === 2 && neg >= 0 && pos >= 0;
  const three = labels.length === 3 && neg >= 0 && neu >= 0 && pos >= 0;
  if (!binary && !three) {
    throw new CliError(`--baseline ${name} needs labels negative/positive or negative/neutral/positive; the model has ${labels.join('/')}`);
  }
  if (name === 'afinn') {
    const afinn = new Sentiment();
    return (text) => {
      const s = afinn.analyze(text).score;
      if (binary) return s >= 0 ? pos : neg;
      return s > 0 ? pos : s < 0 ? neg : neu;
    };
  }
  return (text) => {
    const c = vader.SentimentIntensityAnalyzer.polarity_scores(text).compound;
    if (binary) return c >= 0 ? pos : neg;
    return c >= 0.05 ? pos : c <= -0.05 ? neg : neu;
  };
}

/**
 * A lexicon baseline's continuous score, larger = more positive: the AFINN sum, or VADER's
 * compound. The behaviour suite's direction cases compare it as they compare a model's margin.
 */
export function baselineMargin(name: BaselineName): (text: string) => number {
  if (name === 'afinn') {
    const afinn = new Sentiment();
    return (text) => afinn.analyze(text).score;
  }
  return (text) => vader.SentimentIntensityAnalyzer.polarity_scores(text).compound;
}
