// Tokenize a training/dev file with the *serving* tokenizer: libs/model's loadTokenizer (built:
// libs/model/dist), the code the inference worker runs, so the ids the model learns from are the
// ids it will be fed in production, emoji names (the folder's emoji.json) included.
//   node training/tokenize-corpus.mjs MODELS_DIR NAME MAX_LENGTH IN.txt OUT.jsonl [--mask TOKEN]
// IN.txt: one text per line. OUT.jsonl: one JSON array of ids per line (cut at MAX_LENGTH unless
// --full, unpadded).
// --mask TOKEN: augment.py's mask placeholder becomes TOKEN ([MASK] for the teacher, [UNK] for
// the student) before tokenizing.
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
let mask = null;
const i = args.indexOf('--mask');
if (i >= 0) { mask = args[i + 1]; args.splice(i, 2); }
// --full: ids not cut at MAX_LENGTH (parity texts of a model read in windows)
const full = args.indexOf('--full') >= 0;
if (full) args.splice(args.indexOf('--full'), 1);
const [modelsDir, name, maxLenStr, inFile, outFile] = args;
if (!outFile) {
  console.error('usage: node tokenize-corpus.mjs MODELS_DIR NAME MAX_LENGTH IN.txt OUT.jsonl [--mask TOKEN]');
  process.exit(2);
}
const dist = path.join(import.meta.dirname, '../libs/model/dist/tokenizer.js');
if (!fs.existsSync(dist)) { console.error(`error: ${dist} not built; run: npx tsc -b (make build)`); process.exit(2); }
const { loadTokenizer } = await import(dist);
const max_length = Number(maxLenStr);
const tok = await loadTokenizer(path.resolve(modelsDir, name), max_length, 20_000);
const MASK = '\u2063MASK\u2063';       // augment.py's MASK_TOKEN

let lines = fs.readFileSync(inFile, 'utf8').split('\n');
if (lines.at(-1) === '') lines.pop();
if (mask !== null) lines = lines.map((l) => l.split(MASK).join(` ${mask} `));
const out = [];
let unk = 0, total = 0, truncated = 0;
const unkId = tok.encodeFull(['[UNK]'])[0].filter((id) => !tok.prefix.includes(id) && !tok.suffix.includes(id))[0];
const CHUNK = 512;
for (let k = 0; k < lines.length; k += CHUNK) {
  const batch = lines.slice(k, k + CHUNK);
  const cut = tok.encode(batch);
  const whole = tok.encodeFull(batch);
  (full ? whole : cut).forEach((ids, j) => {
    if (whole[j].length > max_length) truncated++;
    for (const id of ids) { total++; if (id === unkId) unk++; }
    out.push(JSON.stringify(ids));
  });
}
fs.writeFileSync(outFile, out.join('\n') + '\n');
console.error(`tokenized ${lines.length} texts -> ${outFile} ` +
  `(${total} tokens, ${(100 * unk / Math.max(total, 1)).toFixed(2)}% [UNK], ${truncated} cut at ${max_length}` +
  `${tok.emoji ? `, emoji names from ${tok.emoji.source}` : ''})`);
