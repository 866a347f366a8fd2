// Where the scorer's resident memory comes from, step by step, in one fresh process:
//
//   node test/bench/memory.mjs [arena|no-arena] [MODEL name or folder] [--json] [DATASETS_DIR]
//
// Loads what the inference worker loads (ONNX Runtime session with the worker's options, the
// transformers.js tokenizer), then runs the longest texts of the datasets in calls of 256 split as
// the worker splits them (encode.ts subBatches) and as one 256- and one 1024-row batch, printing
// VmRSS / VmHWM after each step (--json: one JSON line at the end, for bench.ts). `no-arena`
// creates the session with enableCpuMemArena: false, to show what ORT's arena holds on to.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute, join } from 'node:path';

const args = process.argv.slice(2);
const json = args.includes('--json');
const [variant = 'arena', modelArg = 'sst2-bilstm', dataArg] = args.filter((a) => a !== '--json');
const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = isAbsolute(modelArg) ? modelArg : `${root}models/${modelArg}`;
const dataDir = dataArg ?? process.env.DATA_DIR ?? join(root, '../shared/datasets');

const mem = () => {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (n) => Number(new RegExp(`${n}:\\s+(\\d+)`).exec(s)[1]);
  return { rss: Math.round(kb('VmRSS') / 1024), hwm: Math.round(kb('VmHWM') / 1024) };
};
const steps = [];
let prev = mem().rss;
const step = (what) => {
  const m = mem();
  steps.push({ step: what, rss_mb: m.rss, delta_mb: m.rss - prev, peak_mb: m.hwm });
  if (!json) process.stdout.write(`${what.padEnd(58)} RSS ${String(m.rss).padStart(4)} MB (+${String(m.rss - prev).padStart(4)})  peak ${String(m.hwm).padStart(4)} MB\n`);
  prev = m.rss;
};

step(`node ${process.version} started (${variant})`);
const ort = await import('onnxruntime-node');
step('import onnxruntime-node');
const config = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8'));
const session = await ort.InferenceSession.create(`${dir}/model.onnx`, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  interOpNumThreads: 1,
  extra: { session: { intra_op: { allow_spinning: '0' } } },
  ...(variant === 'no-arena' ? { enableCpuMemArena: false } : {}),
});
step('InferenceSession.create (worker options)');
const { loadTokenizer } = await import('../../libs/model/dist/tokenizer.js');
const { packBatch, subBatches } = await import('../../libs/model/dist/encode.js');
const tok = await loadTokenizer(dir, config.max_length, 20_000);
step('import @xenova/transformers + load tokenizer.json');

// The longest texts of both datasets: the worst case the arena has to hold.
const read = (f) => readFileSync(f, 'utf8').split('\n').slice(1).filter(Boolean).map((l) => l.slice(0, l.lastIndexOf('\t')));
const texts = [...read(join(dataDir, 'sst2/train-sentences.tsv')), ...read(join(dataDir, 'tweeteval-sentiment/train.tsv'))];
texts.sort((a, b) => b.length - a.length);
step(`read ${texts.length} texts`);

const run = async (rows) => {
  const p = packBatch(rows, tok.padId);
  const dims = [p.batch, p.seqLen];
  await session.run({ input_ids: new ort.Tensor('int64', p.inputIds, dims), attention_mask: new ort.Tensor('int64', p.attentionMask, dims) });
  return p.seqLen;
};
const ids = tok.encode(texts.slice(0, 2048));
step('tokenize 2,048 longest texts');
let len = 0;
let runs = 0;
for (let i = 0; i < 2048; i += 256) {
  const call = ids.slice(i, i + 256);
  for (const r of subBatches(call.map((row) => row.length))) {
    len = Math.max(len, await run(r.map((j) => call[j])));
    runs++;
  }
}
step(`run 8 calls of 256 as the worker splits them: ${runs} runs, max len ${len}`);
len = await run(ids.slice(0, 256));
step(`run 1 x 256 rows unbucketed, len ${len}`);
len = await run(ids.slice(0, 1024));
step(`run 1 x 1024 rows unbucketed, len ${len}`);
await session.release();
if (json) process.stdout.write(`${JSON.stringify({ model: `${config.name} ${config.version}`, variant, steps })}\n`);
