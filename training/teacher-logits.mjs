// The teacher's logits for the transfer set, through the serving path of its shipped folder
// (libs/model: tokenizer, emoji names, windows, ONNX Runtime int8), so the student learns from the
// teacher exactly as it is served.
//   node training/teacher-logits.mjs MODEL_DIR TRANSFER.txt OUT.f32 [--threads N]
// OUT.f32: float32 little-endian, rows x classes (augment.py's mask placeholder becomes [MASK]).
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
let threads = 1;
const t = args.indexOf('--threads');
if (t >= 0) { threads = Number(args[t + 1]); args.splice(t, 2); }
const [dir, inFile, outFile] = args;
if (!outFile) { console.error('usage: node teacher-logits.mjs MODEL_DIR TRANSFER.txt OUT.f32 [--threads N]'); process.exit(2); }
const { loadModel } = await import(path.join(import.meta.dirname, '../libs/model/dist/index.js'));
const MASK = '\u2063MASK\u2063';
let lines = fs.readFileSync(inFile, 'utf8').split('\n');
if (lines.at(-1) === '') lines.pop();
lines = lines.map((l) => l.split(MASK).join(' [MASK] '));
const model = await loadModel(path.resolve(dir), { intraOpThreads: threads });
const classes = model.info.labels.length;
const out = new Float32Array(lines.length * classes);
const t0 = Date.now();
const CHUNK = 1024;
try {
  for (let i = 0; i < lines.length; i += CHUNK) {
    const { logits } = await model.predictLogits(lines.slice(i, i + CHUNK));
    logits.forEach((row, j) => out.set(row, (i + j) * classes));
    const done = Math.min(i + CHUNK, lines.length);
    if ((i / CHUNK) % 10 === 0 || done === lines.length) {
      const rate = done / ((Date.now() - t0) / 1000);
      console.error(`teacher logits ${done}/${lines.length} | ${rate.toFixed(0)} texts/s | ETA ${((lines.length - done) / rate / 60).toFixed(0)} min`);
    }
  }
} finally {
  await model.close();
}
fs.writeFileSync(outFile, Buffer.from(out.buffer));
console.error(`wrote ${outFile} (${lines.length} x ${classes})`);
