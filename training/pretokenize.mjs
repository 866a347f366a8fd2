// Pre-tokenize text with the xenova normalizer + pre-tokenizer of a (bootstrap)
// tokenizer, so the vocabulary is built from exactly the words the serving
// tokenizer will see (emoji already replaced by their names when the folder has an emoji.json,
// as libs/model's tokenizer does). Input: one text per line. Output: tokens joined by ' '.
//   node training/pretokenize.mjs TOKENIZER_DIR IN.txt OUT.txt
import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env } from '@xenova/transformers';

const [dir, inFile, outFile] = process.argv.slice(2);
if (!dir || !inFile || !outFile) {
  console.error('usage: node pretokenize.mjs TOKENIZER_DIR IN.txt OUT.txt');
  process.exit(2);
}
const { describeEmoji, readEmojiNames } = await import(path.join(import.meta.dirname, '../libs/model/dist/tokenizer.js'));
env.allowRemoteModels = false;
env.localModelPath = path.dirname(path.resolve(dir));
const tok = await AutoTokenizer.from_pretrained(path.basename(dir));
const emoji = readEmojiNames(path.resolve(dir));

const lines = fs.readFileSync(inFile, 'utf8').split('\n');
if (lines.at(-1) === '') lines.pop();
const out = lines.map((raw) => {
  const line = emoji ? describeEmoji(raw, emoji.names) : raw;
  const norm = tok.normalizer ? tok.normalizer(line) : line;
  return tok.pre_tokenizer(norm).join(' ');
});
fs.writeFileSync(outFile, out.join('\n') + '\n');
console.error(`pretokenized ${lines.length} lines -> ${outFile}`);
