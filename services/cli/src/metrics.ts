/** Classification metrics from gold and predicted label indices. */

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Number of gold examples of this class. */
  support: number;
}

export interface Report {
  n: number;
  accuracy: number;
  macro_precision: number;
  macro_recall: number;
  macro_f1: number;
  /** Keyed by label name, in label order. */
  per_class: Record<string, ClassMetrics>;
  /** confusion[gold][predicted], in label order. */
  confusion: number[][];
}

export function confusionMatrix(gold: readonly number[], predicted: readonly number[], classes: number): number[][] {
  if (gold.length !== predicted.length) throw new Error(`confusionMatrix: ${gold.length} gold labels but ${predicted.length} predictions`);
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  gold.forEach((g, i) => {
    const p = predicted[i]!;
    if (!(g >= 0 && g < classes && p >= 0 && p < classes)) throw new Error(`confusionMatrix: label out of range at ${i}: gold ${g}, predicted ${p}`);
    m[g]![p]!++;
  });
  return m;
}

/**
 * Metrics of a confusion matrix. A ratio with a zero denominator (a class never predicted, or
 * never present) counts as 0, as scikit-learn's `zero_division=0`; macro averages are unweighted
 * means over all classes.
 */
export function report(confusion: readonly (readonly number[])[], labels: readonly string[]): Report {
  const k = labels.length;
  if (confusion.length !== k || confusion.some((row) => row.length !== k)) throw new Error(`report: confusion matrix is not ${k}x${k}`);
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  let n = 0;
  let correct = 0;
  const per_class: Record<string, ClassMetrics> = {};
  let sumP = 0;
  let sumR = 0;
  let sumF = 0;
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    const f1 = ratio(2 * precision * recall, precision + recall);
    per_class[labels[c]!] = { precision, recall, f1, support };
    n += support;
    correct += tp;
    sumP += precision;
    sumR += recall;
    sumF += f1;
  }
  return {
    n,
    accuracy: ratio(correct, n),
    macro_precision: sumP / k,
    macro_recall: sumR / k,
    macro_f1: sumF / k,
    per_class,
    confusion: confusion.map((row) => [...row]),
  };
}

/** The report as aligned text: headline numbers, a per-class table, the confusion matrix. */
export function formatReport(r: Report, labels: readonly string[]): string {
  const f = (x: number) => x.toFixed(4);
  const w = Math.max(9, ...labels.map((l) => l.length)) + 2;
  const cell = Math.max(9, ...labels.map((l) => l.length + 1), ...r.confusion.flat().map((v) => String(v).length + 1));
  const out = [
    `examples      ${r.n}`,
    `accuracy      ${f(r.accuracy)}`,
    `macro-F1      ${f(r.macro_f1)}`,
    `macro-recall  ${f(r.macro_recall)}`,
    '',
    `${'class'.padEnd(w)}${'precision'.padStart(10)}${'recall'.padStart(10)}${'F1'.padStart(10)}${'support'.padStart(10)}`,
    ...labels.map((l) => {
      const m = r.per_class[l]!;
      return `${l.padEnd(w)}${f(m.precision).padStart(10)}${f(m.recall).padStart(10)}${f(m.f1).padStart(10)}${String(m.support).padStart(10)}`;
    }),
    '',
    'confusion (rows: true label, columns: predicted)',
    `${''.padEnd(w)}${labels.map((l) => l.padStart(cell)).join('')}`,
    ...labels.map((l, g) => `${l.padEnd(w)}${r.confusion[g]!.map((v) => String(v).padStart(cell)).join('')}`),
  ];
  return out.join('\n') + '\n';
}
