// Parity of the exported teacher, through the serving path (libs/model's loadModel: tokenizer,
// emoji names, windows, batching, ONNX Runtime):
// 1. the fp32 graph must give PyTorch's logits (RUN_DIR/parity.torch.jsonl) within 1e-4;
// 2. the int8 graph's logits of the same texts become OUT_DIR/parity.jsonl, the reference the
//    libs/model tests hold the shipped folder to; the largest |int8 - fp32| is printed.
//   node training/teacher-parity.mjs RUN_DIR OUT_DIR
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [run, out] = process.argv.slice(2);
if (!out) { console.error('usage: node teacher-parity.mjs RUN_DIR OUT_DIR'); process.exit(2); }
const { loadModel } = await import(path.join(import.meta.dirname, '../libs/model/dist/index.js'));
const ref = fs.readFileSync(path.join(run, 'parity.torch.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const texts = ref.map((r) => r.text);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'teacher-fp32-'));
try {
  for (const f of fs.readdirSync(out)) if (f !== 'model.onnx') fs.copyFileSync(path.join(out, f), path.join(tmp, f));
  fs.copyFileSync(path.join(run, 'model.fp32.onnx'), path.join(tmp, 'model.onnx'));
  const config = JSON.parse(fs.readFileSync(path.join(tmp, 'config.json'), 'utf8'));
  config.sha256 = crypto.createHash('sha256').update(fs.readFileSync(path.join(tmp, 'model.onnx'))).digest('hex');
  fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify(config));
  const fp32 = await loadModel(tmp, { intraOpThreads: 1 });
  const a = (await fp32.predictLogits(texts)).logits;
  await fp32.close();
  let d = 0;
  a.forEach((row, i) => row.forEach((v, c) => { d = Math.max(d, Math.abs(v - ref[i].logits[c])); }));
  console.error(`fp32 onnx vs PyTorch, ${texts.length} parity texts (long ones in windows): max |diff| = ${d.toExponential(2)}`);
  if (!(d <= 1e-4)) { console.error('error: the fp32 graph does not reproduce PyTorch within 1e-4'); process.exit(1); }

  const int8 = await loadModel(path.resolve(out), { intraOpThreads: 1 });
  const b = (await int8.predictLogits(texts)).logits;
  await int8.close();
  let q = 0, flips = 0;
  b.forEach((row, i) => {
    row.forEach((v, c) => { q = Math.max(q, Math.abs(v - a[i][c])); });
    if (row.indexOf(Math.max(...row)) !== a[i].indexOf(Math.max(...a[i]))) flips++;
  });
  console.error(`int8 vs fp32: max |logit diff| = ${q.toFixed(4)}, ${flips}/${texts.length} labels differ`);
  fs.writeFileSync(path.join(out, 'parity.jsonl'), ref.map((r, i) => JSON.stringify({ ...r, logits: b[i] })).join('\n') + '\n');
  console.log(JSON.stringify({ fp32_vs_torch: d, int8_vs_fp32: q, label_flips: flips, texts: texts.length }));
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
