// Accuracy against speed, one table and one plot per dataset (issue 14): AFINN, VADER, the
// BiLSTM before distillation (v1.1.0 / v1.0.0, kept in training/.work/old), the distilled BiLSTM,
// its int8-LSTM option and the int8 MiniLM. Speed is model-only texts per CPU-second at batch 64,
// one thread (training/throughput.mjs, the figure; the lexicons timed on the same 2,000
// TweetEval dev tweets in one thread), all measured in this one run so they share the machine's
// load. Accuracy: dev metric from `sentiment-stream eval` (config.json dev_metrics / baselines.json).
//   node training/tradeoff.mjs            -> training/tradeoff.json (+ tradeoff.py draws the plots)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const repo = path.dirname(here);
const dataDir = process.env.DATA_DIR ?? path.join(repo, '../shared/datasets');
const texts = fs.readFileSync(path.join(dataDir, 'tweeteval-sentiment/dev.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.slice(0, l.lastIndexOf('\t')));
const { baselineClassifier } = await import(path.join(repo, 'services/cli/dist/baselines.js'));

const DATASETS = {
  sst2: { metric: 'accuracy', rows: [['BiLSTM v1.1.0 (before distillation)', 'training/.work/old/sst2-bilstm'], ['BiLSTM, distilled', 'models/sst2-bilstm'], ['BiLSTM, distilled, int8 LSTM (option)', 'models/options/sst2-bilstm-int8'], ['MiniLM int8 (teacher)', 'models/sst2-minilm']] },
  'tweeteval-sentiment': { metric: 'macro_recall', rows: [['BiLSTM v1.0.0 (before distillation)', 'training/.work/old/tweeteval-bilstm'], ['BiLSTM, distilled', 'models/tweeteval-bilstm'], ['BiLSTM, distilled, int8 LSTM (option)', 'models/options/tweeteval-bilstm-int8'], ['MiniLM int8 (teacher)', 'models/tweeteval-minilm']] },
};
const baselines = JSON.parse(fs.readFileSync(path.join(here, 'baselines.json'), 'utf8'));

function lexiconSpeed(name, labels) {
  const classify = baselineClassifier(name, labels);
  for (const t of texts.slice(0, 200)) classify(t);            // warm-up
  const c0 = process.cpuUsage();
  for (let rep = 0; rep < 2; rep++) for (const t of texts) classify(t);
  const cu = process.cpuUsage(c0);
  return Math.round((2 * texts.length) / ((cu.user + cu.system) / 1e6));
}

const out = { machine: 'shared 2-core VM (other jobs running); compare ratios', command: 'node training/tradeoff.mjs && /usr/bin/python3 training/tradeoff.py', datasets: {} };
for (const [dataset, spec] of Object.entries(DATASETS)) {
  const present = spec.rows.filter(([, dir]) => fs.existsSync(path.join(repo, dir, 'config.json')));
  const speeds = JSON.parse(execFileSync(process.execPath, [path.join(here, 'throughput.mjs'), '--threads', '1', '--batches', '64', ...present.map(([, d]) => path.join(repo, d))], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  const rows = [];
  const anyConfig = JSON.parse(fs.readFileSync(path.join(repo, present[0][1], 'config.json'), 'utf8'));
  const b = baselines[path.basename(present.find(([, d]) => d.startsWith('models/'))?.[1] ?? present[0][1])] ?? baselines[anyConfig.name];
  for (const [label, name] of [['AFINN', 'afinn'], ['VADER', 'vader']]) {
    const row = b?.rows.find((r) => r.scorer.startsWith(label));
    rows.push({ scorer: `${label} (lexicon)`, dev: row ? row[spec.metric] : null, texts_per_cpu_s: lexiconSpeed(name, anyConfig.labels) });
  }
  for (const [label, dir] of present) {
    const config = JSON.parse(fs.readFileSync(path.join(repo, dir, 'config.json'), 'utf8'));
    // throughput.mjs prints folders relative to the working directory: compare resolved paths
    const s = speeds.find((r) => path.resolve(r.model_dir) === path.join(repo, dir) && r.batch === 64 && r.padding === 'longest');
    rows.push({ scorer: label, folder: dir, dev: config.dev_metrics[spec.metric], texts_per_cpu_s: s.texts_per_cpu_s, texts_per_s: s.texts_per_s, onnx_mb: s.onnx_mb });
  }
  out.datasets[dataset] = { metric: spec.metric, rows };
  for (const r of rows) console.error(`${dataset} ${r.scorer}: ${spec.metric} ${r.dev?.toFixed(4)}, ${r.texts_per_cpu_s} texts/CPU-s`);
}
fs.writeFileSync(path.join(here, 'tradeoff.json'), `${JSON.stringify(out, null, 2)}\n`);
