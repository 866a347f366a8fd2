import type { Readable } from 'node:stream';
import { CliError } from './errors.js';
import { lines } from './input.js';

export interface LabeledData {
  texts: string[];
  /** Gold label indices into the model's labels. */
  labels: number[];
}

/**
 * Reads an evaluation TSV: a header with a `text` (or `sentence`) column and a `label` column,
 * then one example per line. Lines are split at TAB with no quote handling (a `"` is text).
 * Labels are integers in [0, classes). Blank lines are skipped.
 */
export async function readLabeledTsv(stream: Readable, name: string, classes: number): Promise<LabeledData> {
  const data: LabeledData = { texts: [], labels: [] };
  let textCol = -1;
  let labelCol = -1;
  let lineNo = 0;
  for await (const line of lines(stream)) {
    lineNo++;
    if (line.trim() === '') continue;
    const fields = line.split('\t');
    if (textCol < 0) {
      const names = fields.map((f) => f.trim().toLowerCase());
      textCol = names.includes('text') ? names.indexOf('text') : names.indexOf('sentence');
      labelCol = names.indexOf('label');
      if (textCol < 0 || labelCol < 0) {
        throw new CliError(`${name}:${lineNo}: expected a header with a "text" or "sentence" column and a "label" column, separated by TABs`);
      }
      continue;
    }
    const text = fields[textCol];
    const label = fields[labelCol]?.trim();
    if (text === undefined || label === undefined) throw new CliError(`${name}:${lineNo}: expected ${Math.max(textCol, labelCol) + 1} TAB-separated fields, got ${fields.length}`);
    if (!/^\d+$/.test(label) || Number(label) >= classes) {
      throw new CliError(`${name}:${lineNo}: label "${label}" is not an integer from 0 to ${classes - 1} (the model has ${classes} labels)`);
    }
    data.texts.push(text);
    data.labels.push(Number(label));
  }
  if (textCol < 0) throw new CliError(`${name}: empty file`);
  if (data.texts.length === 0) throw new CliError(`${name}: no examples after the header`);
  return data;
}
