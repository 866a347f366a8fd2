// Finishes an int8-LSTM option folder (int8-option.sh): config.json (name, sha256, dev metrics
// through the CLI, the batch tolerance measured here), parity.jsonl (each parity text scored alone).
//   node training/int8-option.mjs SRC_DIR OPTION_DIR
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [src, dir] = process.argv.slice(2).map((p) => path.resolve(p));
const repo = path.dirname(import.meta.dirname);
const { loadModel } = await import(path.join(repo, 'libs/model/dist/index.js'));
const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8'));
const fp32 = { ...config };
config.name = `${config.name}-int8`;
config.sha256 = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'model.onnx'))).digest('hex');
config.quantization = { method: 'com.microsoft.DynamicQuantizeLSTM: int8 weights (per gate row), uint8 activations quantized per call', from: `${fp32.name}@${fp32.version} (sha256 ${fp32.sha256.slice(0, 12)})` };
delete config.behaviour;
delete config.dev_metrics;
fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));

const parity = fs.readFileSync(path.join(src, 'parity.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const model = await loadModel(dir, { intraOpThreads: 1 });
const alone = [];
for (const p of parity) alone.push((await model.predictLogits([p.text])).logits[0]);
const batched = (await model.predictLogits(parity.map((p) => p.text))).logits;
await model.close();
let batchDiff = 0, vsFp32 = 0;
batched.forEach((row, i) => row.forEach((v, c) => {
  batchDiff = Math.max(batchDiff, Math.abs(v - alone[i][c]));
  vsFp32 = Math.max(vsFp32, Math.abs(alone[i][c] - parity[i].logits[c]));
}));
fs.writeFileSync(path.join(dir, 'parity.jsonl'), parity.map((p, i) => JSON.stringify({ ...p, logits: alone[i] })).join('\n') + '\n');
// the allowance for batched calls: twice what this run measured, at least 0.01
config.quantization.batch_tolerance = Math.max(0.01, +(2 * batchDiff).toFixed(4));
config.quantization.max_logit_diff_vs_fp32 = +vsFp32.toFixed(4);
const dev = path.join(process.env.DATA_DIR ?? path.join(repo, '../shared/datasets'), config.dataset, 'dev.tsv');
const out = execFileSync(process.execPath, [path.join(repo, 'services/cli/bin/sentiment-stream.js'), 'eval', '--model', dir, '--data', dev, '--json', '--threads', '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const r = JSON.parse(out.trim().split('\n').at(-1));
config.dev_metrics = { accuracy: r.accuracy, macro_f1: r.macro_f1, macro_recall: r.macro_recall };
config.fp32_dev_metrics = fp32.dev_metrics;
fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
console.error(`${config.name}: dev ${JSON.stringify(config.dev_metrics)} (fp32 ${JSON.stringify(fp32.dev_metrics)}); ` +
  `batched vs alone up to ${batchDiff.toFixed(4)}, int8 vs fp32 up to ${vsFp32.toFixed(4)}`);
