// Tokenize a training/dev file with the *serving* tokenizer (xenova AutoTokenizer,
// loaded exactly as the service loads it), so the ids the model learns from are
// the ids it will be fed in production.
//   node training/tokenize-corpus.mjs MODELS_DIR NAME MAX_LENGTH IN.txt OUT.jsonl
// IN.txt: one text per line. OUT.jsonl: one JSON array of ids per line (unpadded).
import fs from 'node:fs';
import { AutoTokenizer, env } from '@xenova/transformers';

const [modelsDir, name, maxLenStr, inFile, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: node tokenize-corpus.mjs MODELS_DIR NAME MAX_LENGTH IN.txt OUT.jsonl');
  process.exit(2);
}
const max_length = Number(maxLenStr);
// xenova 2.17 copies an onnxruntime-common 1.30 Tensor with Object.assign, which
// drops ORT's `data` getter: the ids live in `cpuData`, `.data` is undefined.
const tensorData = (t) => t.data ?? t.cpuData;
env.allowRemoteModels = false;
env.localModelPath = modelsDir;
const tok = await AutoTokenizer.from_pretrained(name);

const lines = fs.readFileSync(inFile, 'utf8').split('\n');
if (lines.at(-1) === '') lines.pop();
const out = [];
let unk = 0, total = 0, truncated = 0;
const CHUNK = 512;
for (let i = 0; i < lines.length; i += CHUNK) {
  const batch = lines.slice(i, i + CHUNK);
  // Same call as the service, but without padding: Python wants raw lengths.
  for (const text of batch) {
    const enc = tok(text, { truncation: true, max_length });
    const ids = Array.from(tensorData(enc.input_ids), Number);
    if (tok(text).input_ids.size > max_length) truncated++;
    for (const id of ids) { total++; if (id === tok.unk_token_id) unk++; }
    out.push(JSON.stringify(ids));
  }
}
fs.writeFileSync(outFile, out.join('\n') + '\n');
console.error(`tokenized ${lines.length} texts -> ${outFile} ` +
  `(${total} tokens, ${(100 * unk / Math.max(total, 1)).toFixed(2)}% [UNK], ${truncated} truncated)`);
