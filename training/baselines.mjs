// The model against the lexicon scorers people use in Node, on the model's dev set in one run:
// `sentiment-stream eval --json` with the model, then with --baseline afinn and vader. Writes the
// figures to training/baselines.json, which card.py renders into the model card.
//   node training/baselines.mjs MODEL_DIR          (dev set: DATA_DIR/<config.dataset>/dev.tsv)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const repo = path.dirname(here);
const dir = path.resolve(process.argv[2] ?? '');
const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const dataDir = process.env.DATA_DIR ?? path.join(repo, '../shared/datasets');
const data = path.join(dataDir, config.dataset, 'dev.tsv');
const shownData = `../shared/datasets/${config.dataset}/dev.tsv`;
const version = (pkg) => JSON.parse(fs.readFileSync(path.join(repo, 'node_modules', pkg, 'package.json'), 'utf8')).version;

const scorers = [
  { scorer: config.name, flags: [] },
  { scorer: `AFINN (\`sentiment\` ${version('sentiment')})`, flags: ['--baseline', 'afinn'] },
  { scorer: `VADER (\`vader-sentiment\` ${version('vader-sentiment')})`, flags: ['--baseline', 'vader'] },
];
const rows = scorers.map(({ scorer, flags }) => {
  const args = ['eval', '--model', dir, '--data', data, '--json', '--threads', '1', ...flags];
  const out = execFileSync(process.execPath, [path.join(repo, 'services/cli/bin/sentiment-stream.js'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const r = JSON.parse(out.trim().split('\n').at(-1));
  process.stderr.write(`${scorer}: accuracy ${r.accuracy.toFixed(4)}, macro-recall ${r.macro_recall.toFixed(4)}\n`);
  return { scorer, n: r.n, accuracy: r.accuracy, macro_f1: r.macro_f1, macro_recall: r.macro_recall };
});
const commands = scorers.map(({ flags }) => ['npx sentiment-stream eval --model', config.name, '--data', shownData, ...flags].join(' '));

const file = path.join(here, 'baselines.json');
const all = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
all[config.name] = { rows, commands };
fs.writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
process.stderr.write(`wrote ${path.relative(repo, file)} (${config.name})\n`);
