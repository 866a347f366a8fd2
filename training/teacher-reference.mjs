// ONNX Runtime's run of the teacher's original graph (the jar's all-minilm-l6-v2.onnx) on the parity
// texts, for `teacher.py check`: the PyTorch module must reproduce these hidden states.
//   node training/teacher-reference.mjs RUN_DIR     (reads RUN_DIR/tokenizer, writes RUN_DIR/reference.json)
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { AutoTokenizer, env } from '@xenova/transformers';

const run = process.argv[2];
if (!run) { console.error('usage: node teacher-reference.mjs RUN_DIR'); process.exit(2); }
const here = import.meta.dirname;
const onnxPath = path.join(here, '../.cache/teacher/1.19.0-beta29/fp32/all-minilm-l6-v2.onnx');
if (!fs.existsSync(onnxPath)) { console.error(`error: ${onnxPath} not found; run: bash training/fetch-teacher.sh`); process.exit(2); }
env.allowRemoteModels = false;
env.localModelPath = path.resolve(run) + path.sep;
const tok = await AutoTokenizer.from_pretrained('tokenizer');
const texts = JSON.parse(fs.readFileSync(path.join(here, 'parity_texts.json'), 'utf8'));
const data = (t) => t.data ?? t.cpuData;     // xenova 2.17 + onnxruntime-common 1.30 quirk
const enc = tok(texts, { padding: true, truncation: true, max_length: 512 });
// trim the padding xenova adds up to max_length
const mask = Array.from(data(enc.attention_mask), Number);
const [B, T0] = enc.input_ids.dims;
let T = 1;
for (let b = 0; b < B; b++) for (let t = 0; t < T0; t++) if (mask[b * T0 + t]) T = Math.max(T, t + 1);
const ids = Array.from(data(enc.input_ids), Number);
const cut = (a) => Array.from({ length: B }, (_, b) => a.slice(b * T0, b * T0 + T)).flat();
const mk = (a) => new ort.Tensor('int64', BigInt64Array.from(a, (x) => BigInt(x)), [B, T]);
const session = await ort.InferenceSession.create(onnxPath);
const out = await session.run({ input_ids: mk(cut(ids)), attention_mask: mk(cut(mask)), token_type_ids: mk(new Array(B * T).fill(0)) });
const h = out.last_hidden_state;
fs.writeFileSync(path.join(run, 'reference.json'), JSON.stringify({ ids: cut(ids), mask: cut(mask), ids_dims: [B, T], hidden: Array.from(h.data), hidden_dims: h.dims }));
console.error(`teacher reference: ${B} texts, ${T} positions -> ${path.join(run, 'reference.json')}`);
