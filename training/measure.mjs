// Figures of a model folder measured through the CLI (the serving path), written into its
// config.json for the model card and the tests:
// - dev_metrics (sentiment-stream eval) when the folder has none from PyTorch (the int8 MiniLMs);
// - behaviour: the suite's pass rate per capability for the model, AFINN and VADER
//   (sentiment-stream behaviour --json), with the suite's sha256. cli.test.ts fails if a shipped
//   model falls below these rates.
//   node training/measure.mjs MODEL_DIR
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const repo = path.dirname(import.meta.dirname);
const dir = path.resolve(process.argv[2] ?? '');
const file = path.join(dir, 'config.json');
if (!fs.existsSync(file)) { console.error(`error: no config.json in ${dir}`); process.exit(2); }
const config = JSON.parse(fs.readFileSync(file, 'utf8'));
const cli = (args) => {
  const out = execFileSync(process.execPath, [path.join(repo, 'services/cli/bin/sentiment-stream.js'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1));
};
const dataDir = process.env.DATA_DIR ?? path.join(repo, '../shared/datasets');
const dev = path.join(dataDir, config.dataset, 'dev.tsv');
if (!config.dev_metrics) {
  const r = cli(['eval', '--model', dir, '--data', dev, '--json', '--threads', '1']);
  config.dev_metrics = { accuracy: r.accuracy, macro_f1: r.macro_f1, macro_recall: r.macro_recall };
  config.dev_metrics_command = `npx sentiment-stream eval --model ${config.name} --data ../shared/datasets/${config.dataset}/dev.tsv`;
}
const model = cli(['behaviour', '--model', dir, '--json', '--threads', '1']);
const afinn = cli(['behaviour', '--model', dir, '--json', '--baseline', 'afinn']);
const vader = cli(['behaviour', '--model', dir, '--json', '--baseline', 'vader']);
config.behaviour = {
  cases: 'test/behaviour/cases.jsonl',
  cases_sha256: model.cases_sha256,
  command: `npx sentiment-stream behaviour --model ${config.name} [--baseline afinn|vader]`,
  counts: Object.fromEntries([...Object.entries(model.capabilities), ['overall', model.overall]].map(([c, r]) => [c, `${r.passed}/${r.total}`])),
  rates: model.rates,
  afinn: afinn.rates,
  vader: vader.rates,
};
const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'model.onnx'))).digest('hex');
if (sha !== config.sha256) { console.error('error: model.onnx changed under measure.mjs'); process.exit(1); }
fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
console.error(`${config.name}: dev ${JSON.stringify(config.dev_metrics)}; behaviour overall ${model.overall.passed}/${model.overall.total} ` +
  `(AFINN ${(100 * afinn.rates.overall).toFixed(1)} %, VADER ${(100 * vader.rates.overall).toFixed(1)} %)`);
