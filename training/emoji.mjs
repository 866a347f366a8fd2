// Writes emoji.json, the emoji -> words table a model folder's tokenizer applies before tokenizing
// (libs/model/src/tokenizer.ts), from the Unicode CLDR English annotations: each emoji's CLDR name
// ("smiling face with heart-eyes", "thumbs down", "pizza"). Names carry the meaning a reader sees;
// emoji whose name says nothing about sentiment (pizza, car) stay neutral words.
//   node training/emoji.mjs OUT.json
// Source: the npm package cldr-annotations-full (The Unicode Consortium), fetched once with
// `npm pack` into .cache/cldr/ (git-ignored), like the teacher's jar from Maven Central.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const CLDR_PACKAGE = 'cldr-annotations-full';
export const CLDR_VERSION = '48.2.0';

const out = process.argv[2];
if (!out) {
  console.error('usage: node training/emoji.mjs OUT.json');
  process.exit(2);
}
const cache = path.resolve(import.meta.dirname, '../.cache/cldr');
const tgz = path.join(cache, `${CLDR_PACKAGE}-${CLDR_VERSION}.tgz`);
const json = path.join(cache, CLDR_VERSION, 'package/annotations/en/annotations.json');
if (!fs.existsSync(json)) {
  fs.mkdirSync(path.dirname(json), { recursive: true });
  if (!fs.existsSync(tgz)) {
    try {
      execFileSync('npm', ['pack', `${CLDR_PACKAGE}@${CLDR_VERSION}`, '--pack-destination', cache, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      console.error(`error: could not fetch ${CLDR_PACKAGE}@${CLDR_VERSION} from the npm registry (npm pack)`);
      process.exit(2);
    }
  }
  execFileSync('tar', ['xzf', tgz, '-C', path.join(cache, CLDR_VERSION), 'package/annotations/en/annotations.json', 'package/package.json']);
}
const annotations = JSON.parse(fs.readFileSync(json, 'utf8')).annotations.annotations;
// Emoji only (not the punctuation and symbols CLDR also names): a pictographic code point, or a
// ZWJ sequence of them. Keys are stored without variation selectors, as the tokenizer looks them up.
const PICTO = /\p{Extended_Pictographic}/u;
const names = {};
for (const [key, value] of Object.entries(annotations)) {
  if (!PICTO.test(key) || !Array.isArray(value.tts)) continue;
  names[key.replace(/[\uFE0E\uFE0F]/gu, '')] = value.tts[0].replace(/[:]/g, ' ').replace(/\s+/g, ' ').trim();
}
fs.writeFileSync(out, JSON.stringify({ source: `${CLDR_PACKAGE}@${CLDR_VERSION} annotations/en (Unicode CLDR)`, names }, null, 0) + '\n');
console.error(`emoji.json: ${Object.keys(names).length} emoji names from ${CLDR_PACKAGE}@${CLDR_VERSION} -> ${out}`);
