import { loadModel, readModelFolder } from '@sentiment-stream/model';
import { parseArgs } from 'node:util';
import { DEFAULT_BATCH_SIZE, DEFAULT_MODEL, HELP_OPTION, loadOptions, MODEL_OPTIONS, parseOrUsage, positiveInt } from '../args.js';
import { BASELINES, baselineClassifier, baselineMargin, type BaselineName } from '../baselines.js';
import { belowRecorded, defaultCasesFile, formatSuite, readCases, runSuite, type RecordedBehaviour, type Scorer } from '../behaviour.js';
import type { Command } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import type { Io } from '../io.js';

const USAGE = `usage: sentiment-stream behaviour [--model NAME|DIR] [--baseline afinn|vader] [--cases FILE] [--json] [--check] [--failures]

Runs the behaviour suite (hand-written cases: negation, contrast, directional intensifiers, emoji,
long texts, neutral statements, invariance to names, typos, URLs, mentions and whitespace) and
prints the pass rate of each capability.

--model NAME|DIR         model folder, or a name under models/ (or MODELS_DIR); default ${DEFAULT_MODEL}
--baseline afinn|vader   score with a lexicon baseline, mapped onto the model's labels
--cases FILE             the suite (default: test/behaviour/cases.jsonl of this repository)
--json                   print the result as one JSON line on stdout (the table goes to stderr)
--check                  exit 1 if a capability falls below the rate recorded in the model's
                         config.json ("behaviour"), the rates its model card shows
--failures               list each failed case on stderr
--batch-size N           texts per model call (default ${DEFAULT_BATCH_SIZE})
--providers LIST         execution providers in order of preference (default: EXECUTION_PROVIDERS, else cpu)
--threads N              ONNX Runtime intra-op threads
`;

async function run(args: string[], io: Io): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args,
      options: {
        ...HELP_OPTION,
        ...MODEL_OPTIONS,
        baseline: { type: 'string' },
        cases: { type: 'string' },
        json: { type: 'boolean' },
        check: { type: 'boolean' },
        failures: { type: 'boolean' },
      },
      strict: true,
    }),
  );
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const baseline = values.baseline;
  if (baseline !== undefined && !(BASELINES as readonly string[]).includes(baseline)) {
    throw new UsageError(`--baseline must be one of ${BASELINES.join(', ')}, got "${baseline}"`);
  }
  if (baseline !== undefined && values.check) throw new UsageError('--check compares a model with its card; it does not apply to --baseline');
  const batchSize = positiveInt('batch-size', values['batch-size'], DEFAULT_BATCH_SIZE);
  const casesFile = values.cases ?? defaultCasesFile();
  if (casesFile === null) throw new CliError('no test/behaviour/cases.jsonl found above the CLI; pass --cases FILE');
  const { cases, sha256 } = readCases(casesFile);
  const options = loadOptions(values, io);
  const folder = await readModelFolder(values.model ?? DEFAULT_MODEL, options.modelsDir !== undefined ? { modelsDir: options.modelsDir } : {});
  const labels = folder.config.labels;
  const pos = labels.indexOf('positive');
  const neg = labels.indexOf('negative');
  if (pos < 0 || neg < 0) throw new CliError(`the behaviour suite needs "positive" and "negative" labels; ${folder.config.name} has ${labels.join('/')}`);

  let scorer: string;
  let result;
  if (baseline !== undefined) {
    const classify = baselineClassifier(baseline as BaselineName, labels);
    const margin = baselineMargin(baseline as BaselineName);
    const score: Scorer = async (texts) => texts.map((t) => ({ label: labels[classify(t)]!, margin: margin(t) }));
    scorer = `${baseline} (labels of ${folder.config.name})`;
    result = await runSuite(cases, labels, score);
  } else {
    const model = await loadModel(folder.dir, options);
    try {
      const score: Scorer = async (texts) => {
        const out = [];
        for (let i = 0; i < texts.length; i += batchSize) {
          const { logits } = await model.predictLogits(texts.slice(i, i + batchSize));
          for (const row of logits) {
            let best = 0;
            row.forEach((v, c) => (v > row[best]! ? (best = c) : 0));
            out.push({ label: labels[best]!, margin: row[pos]! - row[neg]! });
          }
        }
        return out;
      };
      result = await runSuite(cases, labels, score);
      scorer = `${model.info.name}@${model.info.version}`;
    } finally {
      await model.close();
    }
  }

  const table = formatSuite(result, `${scorer}, ${casesFile} (${cases.length} cases)`);
  if (values.failures) for (const f of result.failures) io.stderr.write(`  line ${f.line} [${f.capability}] ${JSON.stringify(f.text).slice(0, 90)}: ${f.why}\n`);
  const rates = Object.fromEntries([...Object.entries(result.capabilities).map(([c, r]) => [c, r.rate]), ['overall', result.overall.rate]]);
  if (values.json) {
    io.stderr.write(table);
    io.stdout.write(`${JSON.stringify({ scorer, cases_sha256: sha256, capabilities: result.capabilities, overall: result.overall, rates })}\n`);
  } else {
    io.stdout.write(table);
  }
  if (values.check) {
    const recorded = folder.config.raw.behaviour as RecordedBehaviour | undefined;
    if (recorded === undefined || typeof recorded.rates !== 'object') throw new CliError(`${folder.config.name}: config.json records no behaviour rates to check against`);
    const below = belowRecorded(result, recorded, sha256);
    if (below.length > 0) {
      io.stderr.write(`${folder.config.name} is below its model card's behaviour rates:\n${below.map((l) => `  ${l}\n`).join('')}`);
      return 1;
    }
    io.stderr.write(`${folder.config.name}: every capability at or above its model card's rate\n`);
  }
  return 0;
}

export const command: Command = { run };
