// Model-only CPU throughput of one or more model folders with onnxruntime-node.
//   node training/throughput.mjs [--threads 2] [--batches 64,128,256] [--texts FILE.tsv] DIR [DIR...]
// Texts: TweetEval dev tweets (typical tweet length), tokenized once up front;
// only session.run is timed (wall clock and process CPU time). Two padding modes per batch size:
//   "longest":    padded to the longest text in the batch;
//   "max_length": what xenova does for tok(texts, {padding: true, truncation: true, max_length}),
//                 i.e. every batch padded to max_length.
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { AutoTokenizer, env } from '@xenova/transformers';

const args = process.argv.slice(2);
let threads = 2;
let batches = [64, 128, 256];
let textsFile = path.resolve(process.env.DATA_DIR ?? path.join(import.meta.dirname, '../../shared/datasets'),
  'tweeteval-sentiment/dev.tsv');
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--threads') threads = Number(args[++i]);
  else if (args[i] === '--texts') textsFile = args[++i];
  else if (args[i] === '--batches') batches = args[++i].split(',').map(Number);
  else dirs.push(path.resolve(args[i]));
}
if (!dirs.length) { console.error('usage: node throughput.mjs [--threads N] [--texts F.tsv] DIR...'); process.exit(2); }
if (!fs.existsSync(textsFile)) { console.error(`error: texts file not found: ${textsFile}`); process.exit(2); }
const texts = fs.readFileSync(textsFile, 'utf8').trim().split('\n').slice(1).map((l) => l.slice(0, l.lastIndexOf('\t')));

const tensorData = (t) => t.data ?? t.cpuData;   // xenova 2.17 + ort-common 1.30 quirk
const results = [];
for (const dir of dirs) {
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  env.allowRemoteModels = false;
  env.localModelPath = path.dirname(dir);
  const tok = await AutoTokenizer.from_pretrained(path.basename(dir));
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'),
    { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const lens = texts.map((t) => tok(t, { truncation: true, max_length: config.max_length }).input_ids.size);
  const meanLen = lens.reduce((a, b) => a + b, 0) / lens.length;
  for (const batch of batches) {
    for (const mode of ['longest', 'max_length']) {
      const feeds = [];
      for (let i = 0; i + batch <= texts.length; i += batch) {
        const chunk = texts.slice(i, i + batch);
        const enc = mode === 'longest'
          ? tok(chunk, { padding: true, truncation: true })
          : tok(chunk, { padding: true, truncation: true, max_length: config.max_length });
        const mk = (t) => new ort.Tensor('int64', BigInt64Array.from(tensorData(t), (x) => BigInt(x)), t.dims);
        feeds.push({ input_ids: mk(enc.input_ids), attention_mask: mk(enc.attention_mask) });
      }
      await session.run(feeds[0]);                         // warm-up
      let n = 0;
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      for (let rep = 0; rep < 2; rep++) for (const f of feeds) { await session.run(f); n += batch; }
      const sec = Number(process.hrtime.bigint() - t0) / 1e9;
      const cu = process.cpuUsage(c0);
      // On a shared machine wall time depends on the neighbours' load; with one
      // intra-op thread, CPU time per text is the more stable figure.
      const cpuSec = (cu.user + cu.system) / 1e6;
      const r = { model_dir: path.relative(process.cwd(), dir), model: config.name, cell: config.hyperparameters?.cell ?? 'transformer', batch, padding: mode,
        seq_len: mode === 'longest' ? 'longest in batch' : config.max_length,
        texts_per_s: Math.round(n / sec), texts_per_cpu_s: Math.round(n / cpuSec), ms_per_batch: +(1000 * sec / (n / batch)).toFixed(2),
        threads, mean_tokens: +meanLen.toFixed(1), onnx_mb: +(fs.statSync(path.join(dir, 'model.onnx')).size / 1e6).toFixed(2) };
      results.push(r);
      console.error(JSON.stringify(r));
    }
  }
}
console.log(JSON.stringify(results));
