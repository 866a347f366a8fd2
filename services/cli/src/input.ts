import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { CliError } from './errors.js';

/**
 * Input formats for `score --input`, decided from the first non-empty line:
 * - jsonl: the line is a JSON object with a string "text" field (an "id" is passed through);
 * - tsv: the line has a TAB and, split at TABs, a column named "text" or "sentence" (header);
 * - lines: anything else; every non-empty line is one text.
 */
export type InputFormat = { kind: 'jsonl' } | { kind: 'tsv'; column: number } | { kind: 'lines' };

export interface InputRecord {
  text: string;
  id?: string | number;
}

export function detectFormat(firstLine: string): InputFormat {
  const line = firstLine.trim();
  if (line.startsWith('{')) {
    try {
      const value = JSON.parse(line) as unknown;
      if (isRecord(value) && typeof value.text === 'string') return { kind: 'jsonl' };
    } catch {
      // not JSON: fall through
    }
  }
  if (firstLine.includes('\t')) {
    const names = firstLine.split('\t').map((c) => c.trim().toLowerCase());
    const column = names.includes('text') ? names.indexOf('text') : names.indexOf('sentence');
    if (column >= 0) return { kind: 'tsv', column };
  }
  return { kind: 'lines' };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Opens FILE, or stdin for "-", failing with one line when the file cannot be read. */
export function openInput(file: string, stdin: Readable): Readable {
  if (file === '-') return stdin;
  if (!existsSync(file)) throw new CliError(`input file not found: ${file}`);
  if (!statSync(file).isFile()) throw new CliError(`input is not a file: ${file}`);
  return createReadStream(file, { encoding: 'utf8' });
}

/** Lines of a stream without their line ending; `\r\n` endings are accepted. */
export async function* lines(stream: Readable): AsyncGenerator<string> {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
  }
}

/** The texts of an input stream, in order; `name` is used in error messages (file:line). */
export async function* readTexts(stream: Readable, name: string): AsyncGenerator<InputRecord> {
  let format: InputFormat | null = null;
  let lineNo = 0;
  for await (const line of lines(stream)) {
    lineNo++;
    if (line.trim() === '') continue;
    if (format === null) {
      format = detectFormat(line);
      if (format.kind === 'tsv') continue; // the header
    }
    switch (format.kind) {
      case 'lines':
        yield { text: line };
        break;
      case 'tsv': {
        const text = line.split('\t')[format.column];
        if (text === undefined) throw new CliError(`${name}:${lineNo}: no column ${format.column + 1} in this TSV line`);
        yield { text };
        break;
      }
      case 'jsonl': {
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (err) {
          throw new CliError(`${name}:${lineNo}: not valid JSON (${(err as Error).message})`);
        }
        if (!isRecord(value) || typeof value.text !== 'string') throw new CliError(`${name}:${lineNo}: expected a JSON object with a string "text" field`);
        const id = value.id;
        yield typeof id === 'string' || typeof id === 'number' ? { text: value.text, id } : { text: value.text };
        break;
      }
    }
  }
}

/** Groups an async sequence into arrays of at most `size`. */
export async function* batches<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
