import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLabeledTsv } from './labeled-data.js';

const read = (content: string, classes = 2) => readLabeledTsv(Readable.from([content]), 'dev.tsv', classes);

describe('readLabeledTsv', () => {
  it('reads text/sentence and label columns in either order', async () => {
    expect(await read('sentence\tlabel\nit \'s good\t1\n"bad"\t0\n')).toEqual({ texts: ["it 's good", '"bad"'], labels: [1, 0] });
    expect(await read('label\ttext\n2\thi\n', 3)).toEqual({ texts: ['hi'], labels: [2] });
  });

  it('rejects a missing header, a bad label and an empty file with file:line', async () => {
    await expect(read('a\tb\nx\t1\n')).rejects.toThrow('dev.tsv:1: expected a header with a "text" or "sentence" column and a "label" column');
    await expect(read('text\tlabel\nok\t1\nbad\t2\n')).rejects.toThrow('dev.tsv:3: label "2" is not an integer from 0 to 1 (the model has 2 labels)');
    await expect(read('text\tlabel\nno tab here\n')).rejects.toThrow('dev.tsv:2: expected 2 TAB-separated fields, got 1');
    await expect(read('text\tlabel\n')).rejects.toThrow('dev.tsv: no examples after the header');
    await expect(read('')).rejects.toThrow('dev.tsv: empty file');
  });
});
