// Verify a model folder the way the service uses it:
//   node training/verify-onnx.mjs models/sst2-bilstm
// - loads the tokenizer with libs/model's loadTokenizer (emoji names, then xenova, offline)
// - checks tokenizer ids against parity.jsonl and the raw-vs-PTB equivalences
// - runs model.onnx with onnxruntime-node on each parity text alone, on one batch padded to
//   max_length, and on a batch padded only to its longest text; all must match the PyTorch
//   logits within 1e-4. A dynamically quantized model (config.json quantization.batch_tolerance,
//   e.g. the int8 LSTM option) quantizes its activations over the whole batch, so its batched
//   logits may move by that much; each text alone must still match within 1e-4.
//   Texts longer than max_length in a windowed model are checked by libs/model's tests.
// - checks config.json's sha256
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import ort from 'onnxruntime-node';

const dir = path.resolve(process.argv[2] ?? '');
if (!process.argv[2] || !fs.existsSync(path.join(dir, 'model.onnx'))) {
  console.error(`error: no model.onnx in ${dir}`);
  process.exit(2);
}
const TOL = 1e-4;
const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const BATCH_TOL = config.quantization?.batch_tolerance ?? TOL;
const parity = fs.readFileSync(path.join(dir, 'parity.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
let failures = 0;
const fail = (msg) => { failures++; console.error('FAIL ' + msg); };

const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'model.onnx'))).digest('hex');
if (sha !== config.sha256) fail(`sha256 mismatch ${sha} vs config ${config.sha256}`);

// The serving tokenizer (libs/model: emoji names from emoji.json, then xenova), built by make build.
const { loadTokenizer } = await import(path.join(import.meta.dirname, '../libs/model/dist/tokenizer.js'));
const max_length = config.max_length;
const tokenizer = await loadTokenizer(dir, max_length, 20_000);
// Texts longer than max_length are read in windows by a model with window_stride: their parity
// rows carry no input_ids and their logits are checked through libs/model (model.test.ts).
const fits = parity.map((p) => p.input_ids !== undefined || !config.window_stride);
const pad = (rows, to) => {
  const T = to ?? Math.max(1, ...rows.map((r) => r.length));
  const ids = new Array(rows.length * T).fill(0), mask = new Array(rows.length * T).fill(0);
  rows.forEach((r, i) => { if (r.length === 0) mask[i * T] = 1; r.forEach((id, t) => { ids[i * T + t] = id; mask[i * T + t] = 1; }); });
  return { input_ids: { data: ids, dims: [rows.length, T] }, attention_mask: { data: mask, dims: [rows.length, T] } };
};
const tok = (texts, opts = {}) => {
  const rows = tokenizer.encode(Array.isArray(texts) ? texts : [texts]);
  return pad(rows, opts.max_length !== undefined && opts.padding ? opts.max_length : undefined);
};

// Tokenizer: same ids as used for the PyTorch parity logits.
for (const p of parity) {
  const ids = tokenizer.encode([p.text])[0];
  if (p.input_ids && JSON.stringify(ids) !== JSON.stringify(p.input_ids)) fail(`ids differ for ${JSON.stringify(p.text)}`);
}
const same = [["doesn't", "does n't"], ["it's", "it 's"], ["I can't", "i ca n't"], ["won't", "wo n't"],
  ["we're", "we 're"], ["I'll", "i 'll"], ["they've", "they 've"], ["I'm", "i 'm"], ["he'd", "he 'd"],
  ["“Great”", '"great"'], ["``great''", '"great"'], ["didn’t", "did n't"], ["dont", "do n't"]];
for (const [a, b] of same) {
  const [ia, ib] = tokenizer.encode([a, b]);
  if (JSON.stringify(ia) !== JSON.stringify(ib)) fail(`tokenizer: ${a} -> ${ia} but ${b} -> ${ib}`);
}

const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
const toTensor = (t) => new ort.Tensor('int64', BigInt64Array.from(t.data, (x) => BigInt(x)), t.dims);
async function run(enc) {
  const out = await session.run({ input_ids: toTensor(enc.input_ids), attention_mask: toTensor(enc.attention_mask) });
  const [b, c] = out.logits.dims;
  return Array.from({ length: b }, (_, i) => Array.from(out.logits.data.slice(i * c, (i + 1) * c)));
}
function compare(name, got, rows, tol = TOL) {
  let max = 0;
  got.forEach((row, i) => row.forEach((v, j) => { max = Math.max(max, Math.abs(v - rows[i].logits[j])); }));
  console.error(`${name}: max |onnx - reference| = ${max.toExponential(2)} (tolerance ${tol})`);
  if (!(max <= tol)) fail(`${name} exceeds ${tol}`);
  return max;
}
const rows = parity.filter((_, i) => fits[i]);
const texts2 = rows.map((p) => p.text);
// 1) each text alone
const alone = [];
for (const t of texts2) alone.push(...await run(tok([t])));
const d1 = compare('single texts', alone, rows);
// 2) the whole mixed-length batch padded to max_length
const d2 = compare('batch padded to max_length', await run(tok(texts2, { padding: true, max_length })), rows, BATCH_TOL);
// 3) padded only to the longest text in the batch
const d3 = compare('batch padded to longest', await run(tok(texts2)), rows, BATCH_TOL);
const result = { model: config.name, max_abs_diff_alone: d1, max_abs_diff_batched: Math.max(d2, d3), texts: texts2.length, failures };
console.log(JSON.stringify(result));
if (failures) { console.error(`${failures} check(s) failed`); process.exit(1); }
console.error('verify ok');
