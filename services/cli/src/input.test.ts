import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { batches, detectFormat, readTexts } from './input.js';

const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};
const read = (content: string) => collect(readTexts(Readable.from([content]), 'in.txt'));

describe('detectFormat', () => {
  it('recognises JSONL, TSV with a text/sentence header, and plain lines', () => {
    expect(detectFormat('{"text": "hi", "id": 3}')).toEqual({ kind: 'jsonl' });
    expect(detectFormat('text\tlabel')).toEqual({ kind: 'tsv', column: 0 });
    expect(detectFormat('label\tSentence')).toEqual({ kind: 'tsv', column: 1 });
    expect(detectFormat('id\ttext\tsentence')).toEqual({ kind: 'tsv', column: 1 });
    expect(detectFormat('just some words')).toEqual({ kind: 'lines' });
    expect(detectFormat('{not json}')).toEqual({ kind: 'lines' });
    expect(detectFormat('{"body": "no text field"}')).toEqual({ kind: 'lines' });
    expect(detectFormat('a\tb')).toEqual({ kind: 'lines' });
  });
});

describe('readTexts', () => {
  it('reads JSONL, keeping ids and skipping blank lines', async () => {
    expect(await read('{"id": "a", "text": "good"}\n\n{"text": "bad", "x": 1}\r\n')).toEqual([{ id: 'a', text: 'good' }, { text: 'bad' }]);
  });

  it('reads the text column of a TSV without quote handling', async () => {
    expect(await read('sentence\tlabel\n"quoted" text\t1\nit \'s fine\t0\n')).toEqual([{ text: '"quoted" text' }, { text: "it 's fine" }]);
  });

  it('reads plain lines', async () => {
    expect(await read('one\ntwo three\n\n')).toEqual([{ text: 'one' }, { text: 'two three' }]);
  });

  it('names the file and line of a bad JSONL line', async () => {
    await expect(read('{"text": "ok"}\n{"text": 5}\n')).rejects.toThrow('in.txt:2: expected a JSON object with a string "text" field');
    await expect(read('{"text": "ok"}\n{oops\n')).rejects.toThrow(/^in\.txt:2: not valid JSON/);
  });
});

describe('batches', () => {
  it('groups in order with a short last batch', async () => {
    expect(await collect(batches(Readable.from([1, 2, 3, 4, 5]), 2))).toEqual([[1, 2], [3, 4], [5]]);
  });
});
