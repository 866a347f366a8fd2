import { loadModel, readModelFolder } from '@sentiment-stream/model';
import { parseArgs } from 'node:util';
import { DEFAULT_BATCH_SIZE, HELP_OPTION, loadOptions, MODEL_OPTIONS, parseOrUsage, positiveInt } from '../args.js';
import { BASELINES, baselineClassifier, type BaselineName } from '../baselines.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { openInput } from '../input.js';
import type { Io } from '../io.js';
import { readLabeledTsv } from '../labeled-data.js';
import { confusionMatrix, formatReport, report } from '../metrics.js';
import { progress } from '../progress.js';

const USAGE = `usage: sentiment-stream eval --model NAME|DIR --data FILE.tsv [--json] [--baseline afinn|vader]

Scores a labeled TSV (header with a "text" or "sentence" column and a "label" column holding the
index of the model's label; lines split at TAB, no quoting) and prints accuracy, macro-F1,
macro-recall, per-class precision/recall/F1 and the confusion matrix.

--model NAME|DIR         model folder, or a name under models/ (or MODELS_DIR)
--data FILE.tsv          the labeled data
--json                   print the report as one JSON line on stdout (the readable report goes to stderr)
--baseline afinn|vader   score with a lexicon baseline instead of the model, mapped onto the model's
                         labels (see the CLI README); the model is only read for its labels
--batch-size N           texts per model call (default ${DEFAULT_BATCH_SIZE})
--providers LIST         execution providers in order of preference (default: EXECUTION_PROVIDERS, else cpu)
--threads N              ONNX Runtime intra-op threads
`;

async function run(args: string[], io: Io): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args,
      options: { ...HELP_OPTION, ...MODEL_OPTIONS, data: { type: 'string', short: 'd' }, json: { type: 'boolean' }, baseline: { type: 'string' } },
      strict: true,
    }),
  );
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (values.model === undefined) throw new UsageError('--model is required');
  if (values.data === undefined) throw new UsageError('--data is required');
  const baseline = values.baseline;
  if (baseline !== undefined && !(BASELINES as readonly string[]).includes(baseline)) {
    throw new UsageError(`--baseline must be one of ${BASELINES.join(', ')}, got "${baseline}"`);
  }
  const batchSize = positiveInt('batch-size', values['batch-size'], DEFAULT_BATCH_SIZE);
  const options = loadOptions(values, io);

  const folder = await readModelFolder(values.model, options.modelsDir !== undefined ? { modelsDir: options.modelsDir } : {});
  const labels = folder.config.labels;
  const data = await readLabeledTsv(openInput(values.data, io.stdin), values.data, labels.length);

  let predicted: number[];
  let scorer: string;
  let describe: string;
  let start = performance.now();
  if (baseline !== undefined) {
    const classify = baselineClassifier(baseline as BaselineName, labels);
    predicted = data.texts.map(classify);
    scorer = baseline;
    describe = `baseline ${baseline}, mapped onto the labels of ${folder.config.name} (${labels.join('/')})`;
  } else {
    const model = await loadModel(folder.dir, options);
    start = performance.now(); // time the scoring, not the model load
    const bar = progress(io, 'scored', data.texts.length);
    predicted = [];
    try {
      for (let i = 0; i < data.texts.length; i += batchSize) {
        const { predictions } = await model.predict(data.texts.slice(i, i + batchSize));
        for (const p of predictions) predicted.push(labels.indexOf(p.label));
        bar.update(predicted.length);
      }
    } finally {
      bar.done();
      await model.close();
    }
    scorer = `${model.info.name}@${model.info.version}`;
    describe = `${model.info.name} ${model.info.version} (provider ${model.info.provider})`;
  }
  const seconds = (performance.now() - start) / 1000;

  const r = report(confusionMatrix(data.labels, predicted, labels.length), labels);
  const text = `model         ${describe}\ndata          ${values.data}\n${formatReport(r, labels)}time          ${seconds.toFixed(2)} s (${Math.round(r.n / seconds)} texts/s)\n`;
  if (values.json) {
    io.stderr.write(text);
    io.stdout.write(`${JSON.stringify({ ...r, model: scorer, labels, data: values.data, ...(baseline !== undefined ? { labels_from: folder.config.name } : {}) })}\n`);
  } else {
    io.stdout.write(text);
  }
  return 0;
}

export const command: Command = { run };
