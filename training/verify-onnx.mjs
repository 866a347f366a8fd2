// Verify a model folder the way the service uses it:
//   node training/verify-onnx.mjs models/sst2-bilstm
// - loads the tokenizer with AutoTokenizer (offline, localModelPath = parent dir)
// - checks tokenizer ids against parity.jsonl and the raw-vs-PTB equivalences
// - runs model.onnx with onnxruntime-node on each parity text alone, on one
//   batch padded by the service call (padding + truncation + max_length), and
//   on a batch padded only to its longest text; all must match the PyTorch
//   logits within 1e-4
// - checks config.json's sha256
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import ort from 'onnxruntime-node';
import { AutoTokenizer, env } from '@xenova/transformers';

const dir = path.resolve(process.argv[2] ?? '');
if (!process.argv[2] || !fs.existsSync(path.join(dir, 'model.onnx'))) {
  console.error(`error: no model.onnx in ${dir}`);
  process.exit(2);
}
const TOL = 1e-4;
// xenova 2.17 + onnxruntime-common 1.30: xenova's Tensor has `data` undefined
// (Object.assign drops ORT's getter); the values are in `cpuData`.
const tensorData = (t) => t.data ?? t.cpuData;
const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const parity = fs.readFileSync(path.join(dir, 'parity.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const texts = parity.map((p) => p.text);
let failures = 0;
const fail = (msg) => { failures++; console.error('FAIL ' + msg); };

const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'model.onnx'))).digest('hex');
if (sha !== config.sha256) fail(`sha256 mismatch ${sha} vs config ${config.sha256}`);

env.allowRemoteModels = false;
env.localModelPath = path.dirname(dir);
const tok = await AutoTokenizer.from_pretrained(path.basename(dir));
const max_length = config.max_length;

// Tokenizer: same ids as used for the PyTorch parity logits.
for (const p of parity) {
  const ids = Array.from(tensorData(tok(p.text, { truncation: true, max_length }).input_ids), Number);
  if (p.input_ids && JSON.stringify(ids) !== JSON.stringify(p.input_ids)) fail(`ids differ for ${JSON.stringify(p.text)}`);
}
const same = [["doesn't", "does n't"], ["it's", "it 's"], ["I can't", "i ca n't"], ["won't", "wo n't"],
  ["we're", "we 're"], ["I'll", "i 'll"], ["they've", "they 've"], ["I'm", "i 'm"], ["he'd", "he 'd"],
  ["“Great”", '"great"'], ["``great''", '"great"'], ["didn’t", "did n't"], ["dont", "do n't"]];
for (const [a, b] of same) {
  const ia = Array.from(tensorData(tok(a).input_ids), Number), ib = Array.from(tensorData(tok(b).input_ids), Number);
  if (JSON.stringify(ia) !== JSON.stringify(ib)) fail(`tokenizer: ${a} -> ${ia} but ${b} -> ${ib}`);
}

const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
const toTensor = (t) => new ort.Tensor('int64', BigInt64Array.from(tensorData(t), (x) => BigInt(x)), t.dims);
async function run(enc) {
  const out = await session.run({ input_ids: toTensor(enc.input_ids), attention_mask: toTensor(enc.attention_mask) });
  const [b, c] = out.logits.dims;
  return Array.from({ length: b }, (_, i) => Array.from(out.logits.data.slice(i * c, (i + 1) * c)));
}
function compare(name, got) {
  let max = 0;
  got.forEach((row, i) => row.forEach((v, j) => { max = Math.max(max, Math.abs(v - parity[i].logits[j])); }));
  console.error(`${name}: max |onnx - torch| = ${max.toExponential(2)}`);
  if (!(max <= TOL)) fail(`${name} exceeds ${TOL}`);
  return max;
}
// 1) each text alone (service call: padded to max_length by xenova)
const alone = [];
for (const t of texts) alone.push(...await run(tok([t], { padding: true, truncation: true, max_length })));
const d1 = compare('single texts', alone);
// 2) the whole mixed-length batch, exactly as the service calls it
const d2 = compare('service batch', await run(tok(texts, { padding: true, truncation: true, max_length })));
// 3) padded only to the longest text in the batch (no max_length)
const short = texts.filter((t) => tok(t).input_ids.size <= max_length);
const idx = texts.map((t, i) => i).filter((i) => tok(texts[i]).input_ids.size <= max_length);
const got3 = await run(tok(short, { padding: true }));
let d3 = 0;
got3.forEach((row, k) => row.forEach((v, j) => { d3 = Math.max(d3, Math.abs(v - parity[idx[k]].logits[j])); }));
console.error(`batch padded to longest: max |onnx - torch| = ${d3.toExponential(2)}`);
if (!(d3 <= TOL)) fail(`padded-to-longest batch exceeds ${TOL}`);

const result = { model: config.name, max_abs_diff: Math.max(d1, d2, d3), texts: texts.length, failures };
console.log(JSON.stringify(result));
if (failures) { console.error(`${failures} check(s) failed`); process.exit(1); }
console.error('verify ok');
