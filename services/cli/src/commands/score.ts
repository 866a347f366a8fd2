import { loadModel, type Prediction } from '@sentiment-stream/model';
import { parseArgs } from 'node:util';
import { DEFAULT_BATCH_SIZE, DEFAULT_MODEL, HELP_OPTION, loadOptions, MODEL_OPTIONS, parseOrUsage, positiveInt } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { batches, openInput, readTexts, type InputRecord } from '../input.js';
import { write, type Io } from '../io.js';
import { progress } from '../progress.js';

const USAGE = `usage: sentiment-stream score [--model NAME|DIR] TEXT...
       sentiment-stream score [--model NAME|DIR] --input FILE|-

Scores texts and prints one JSON line per text on stdout, in input order:
  {"text": ..., "label": ..., "score": ..., "probabilities": {...}}

--input FILE|-     read texts from FILE (or stdin): JSONL with a "text" field (an "id" is kept),
                   TSV with a header naming a "text" or "sentence" column, or plain lines
--model NAME|DIR   model folder, or a name under models/ (or MODELS_DIR); default ${DEFAULT_MODEL}
--no-text          leave the text out of the output lines
--batch-size N     texts per model call (default ${DEFAULT_BATCH_SIZE})
--providers LIST   execution providers in order of preference, e.g. cuda,cpu
                   (default: EXECUTION_PROVIDERS, else cpu)
--threads N        ONNX Runtime intra-op threads
`;

const round = (x: number) => Math.round(x * 1e6) / 1e6;

export function formatPrediction(record: InputRecord, p: Prediction, withText: boolean): string {
  const probabilities: Record<string, number> = {};
  for (const [label, q] of Object.entries(p.probabilities)) probabilities[label] = round(q);
  return JSON.stringify({
    ...(record.id !== undefined ? { id: record.id } : {}),
    ...(withText ? { text: record.text } : {}),
    label: p.label,
    score: round(p.score),
    probabilities,
  });
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseOrUsage(() =>
    parseArgs({
      args,
      options: { ...HELP_OPTION, ...MODEL_OPTIONS, input: { type: 'string', short: 'i' }, 'no-text': { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (values.input !== undefined && positionals.length > 0) throw new UsageError('give TEXT arguments or --input, not both');
  if (values.input === undefined && positionals.length === 0) throw new UsageError('nothing to score: give TEXT arguments or --input FILE|-');
  const batchSize = positiveInt('batch-size', values['batch-size'], DEFAULT_BATCH_SIZE);
  const options = loadOptions(values, io);
  const source: AsyncIterable<InputRecord> =
    values.input !== undefined
      ? readTexts(openInput(values.input, io.stdin), values.input === '-' ? 'stdin' : values.input)
      : (async function* () {
          for (const text of positionals) yield { text };
        })();

  const model = await loadModel(values.model ?? DEFAULT_MODEL, options);
  const bar = progress(io, 'scored');
  let done = 0;
  try {
    for await (const batch of batches(source, batchSize)) {
      const { predictions } = await model.predict(batch.map((r) => r.text));
      const out = batch.map((r, i) => formatPrediction(r, predictions[i]!, !values['no-text'])).join('\n') + '\n';
      await write(io.stdout, out);
      done += batch.length;
      bar.update(done);
    }
  } finally {
    bar.done();
    await model.close();
  }
  return 0;
}

export const command: Command = { run };
