// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- an ambient declaration file has no module to import; the reference brings its types wherever this file is compiled (the bench type-checks it from source)
/// <reference path="./xenova-modules.d.ts" />
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
// The package's tokenizers and env modules alone. Its entry (`@xenova/transformers`) also loads
// the pipelines, models and image processors, and with them sharp (libvips), none of which a
// tokenizer calls: loading the BiLSTM's tokenizer in a fresh process took 104 MB RSS through the
// entry and 92 MB this way (same ids), in every scorer. The types are the entry's (xenova-modules.d.ts).
import { AutoTokenizer } from '@xenova/transformers/src/tokenizers.js';
import { env } from '@xenova/transformers/src/env.js';

/** The part of a transformers.js tokenizer used here. */
interface XenovaTokenizer {
  (texts: string[], options: { truncation: boolean; max_length?: number; padding: boolean; return_tensor: false }): { input_ids: number[][] };
  pad_token_id?: number;
  model_max_length: number;
}

export interface Tokenizer {
  padId: number;
  /** Token ids per text, truncated to maxLength, not padded. Texts are first cut to maxTextChars. */
  encode(texts: string[]): number[][];
  /** Token ids per text, not truncated (texts are still cut to maxTextChars), not padded. */
  encodeFull(texts: string[]): number[][];
  /**
   * The special ids the tokenizer puts around every text: [CLS] before and [SEP] after for a BERT
   * tokenizer, nothing for the BiLSTMs'. A long text's windows each get them (encode.ts windows()).
   */
  prefix: number[];
  suffix: number[];
  /** Emoji -> words applied before tokenizing (the folder's emoji.json), or null when it has none. */
  emoji: EmojiNames | null;
}

/** `emoji.json` of a model folder: emoji (without variation selectors) -> the words that replace it. */
export interface EmojiNames {
  source: string;
  names: Record<string, string>;
}

/**
 * One emoji as written: a flag (two regional indicators), or a pictograph with its optional
 * variation selector, skin tone or keycap mark, and ZWJ-joined pictographs after it.
 */
const MOD = String.raw`(?:\uFE0E|\uFE0F|\u20E3|\u{1F3FB}|\u{1F3FC}|\u{1F3FD}|\u{1F3FE}|\u{1F3FF})`;
const EMOJI = new RegExp(String.raw`\p{RI}\p{RI}|\p{Extended_Pictographic}${MOD}*(?:\u200D\p{Extended_Pictographic}${MOD}*)*`, 'gu');
const MODIFIERS = new RegExp(MOD, 'gu');
const IS_FLAG = /^\p{RI}\p{RI}$/u;

/**
 * Replaces each emoji with its name from `names`, spaced off as words: "love it😍" -> "love it
 * smiling face with heart-eyes ". Skin tones and variation selectors are dropped before the
 * look-up; a ZWJ sequence without a name of its own is named by its parts; a flag becomes "flag";
 * an emoji the table does not know is left as it is.
 */
export function describeEmoji(text: string, names: Record<string, string>): string {
  return text.replace(EMOJI, (m) => {
    if (IS_FLAG.test(m)) return ' flag ';
    const key = m.replace(MODIFIERS, '');
    const whole = names[key];
    if (whole !== undefined) return ` ${whole} `;
    if (!key.includes('\u200D')) return m;
    const parts = key.split('\u200D').map((p) => names[p]);
    return parts.every((p) => p !== undefined) ? ` ${parts.join(' ')} ` : m;
  });
}

/** Reads `<dir>/emoji.json` when the folder has one; a malformed file is an error naming it. */
export function readEmojiNames(dir: string): EmojiNames | null {
  const file = path.join(dir, 'emoji.json');
  if (!existsSync(file)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`emoji.json is not valid JSON (${(err as Error).message})`);
  }
  const p = parsed as Partial<EmojiNames> | null;
  if (typeof p !== 'object' || p === null || typeof p.names !== 'object' || p.names === null || !Object.values(p.names).every((v) => typeof v === 'string')) {
    throw new Error('emoji.json must be {"source": "...", "names": {"<emoji>": "<words>", ...}}');
  }
  return { source: typeof p.source === 'string' ? p.source : 'unknown', names: p.names };
}

interface ReplaceNormalizer {
  config: { type?: string; pattern?: { String?: string; Regex?: string }; content?: string };
  normalizers?: unknown[];
  normalize(text: string): string;
}

/**
 * @xenova/transformers 2.17.2 compiles a Replace normalizer's pattern again for every text it
 * normalizes (`Replace.normalize` calls `createPattern`). Our BiLSTMs' tokenizers chain 18 of them,
 * 11 with Unicode property classes: `createPattern` was 12 % of the tokenizer thread in the scorer's
 * CPU profile. Built once, normalizing both dev sets takes 2.8-2.9 ms per 1,000 texts instead of
 * 8.3-8.6, and tokenizing 14.7-19.4 CPU ms instead of 20.8-23.9 (`scripts/tokenizer-cost.ts`).
 * Each is compiled here as transformers.js compiles it: a String pattern is matched literally, a
 * Regex one with the `gu` flags after dropping the escapes of `#`, `&` and `~` that JavaScript's `u`
 * flag refuses. A Regex pattern that needs more than that (transformers.js rewrites a few others) is
 * left to the library. The test compares ids with and without this over both dev sets.
 */
export function compileReplaceNormalizers(normalizer: unknown): void {
  const n = normalizer as ReplaceNormalizer | null | undefined;
  // transformers.js normalizers are Callables: functions with properties.
  if (n === null || (typeof n !== 'object' && typeof n !== 'function')) return;
  for (const inner of n.normalizers ?? []) compileReplaceNormalizers(inner);
  if (n.config?.type !== 'Replace' || n.config.content === undefined) return;
  const content = n.config.content;
  const { String: literal, Regex: source } = n.config.pattern ?? {};
  if (literal !== undefined) {
    n.normalize = (text) => text.replaceAll(literal, content);
  } else if (source !== undefined && !source.includes('(?i:')) {
    const re = new RegExp(source.replace(/\\([#&~])/g, '$1'), 'gu');
    n.normalize = (text) => text.replaceAll(re, content);
  }
}

/** Loads `<dir>/tokenizer.json` + `tokenizer_config.json` with transformers.js, local files only. */
export async function loadTokenizer(dir: string, maxLength: number, maxTextChars: number): Promise<Tokenizer> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(dir) + path.sep;
  let tok: XenovaTokenizer;
  try {
    tok = (await AutoTokenizer.from_pretrained(path.basename(dir))) as unknown as XenovaTokenizer;
  } catch (err) {
    throw new Error(`tokenizer.json / tokenizer_config.json could not be loaded by @xenova/transformers: ${(err as Error).message}`);
  }
  compileReplaceNormalizers((tok as unknown as { normalizer?: unknown }).normalizer);
  const emoji = readEmojiNames(dir);
  // config.json's max_length is authoritative; transformers.js also caps at model_max_length
  // (and computes NaN lengths when tokenizer_config.json lacks it).
  tok.model_max_length = maxLength;
  const prepare = (texts: string[]) =>
    texts.map((t) => {
      const clipped = t.length > maxTextChars ? t.slice(0, maxTextChars) : t;
      return emoji === null ? clipped : describeEmoji(clipped, emoji.names);
    });
  // The specials around a text: where a one-word text's own id sits among its ids.
  const [probe] = tok(['a'], { truncation: false, padding: false, return_tensor: false }).input_ids;
  const [empty] = tok([''], { truncation: false, padding: false, return_tensor: false }).input_ids;
  const body = probe!.length - empty!.length;
  const at = probe!.findIndex((id, i) => !empty!.includes(id) || empty![i] !== id);
  const prefix = body > 0 && at >= 0 ? probe!.slice(0, at) : [];
  const suffix = body > 0 && at >= 0 ? probe!.slice(at + body) : [];
  return {
    padId: tok.pad_token_id ?? 0,
    prefix,
    suffix,
    emoji,
    encode(texts) {
      if (texts.length === 0) return [];
      return tok(prepare(texts), { truncation: true, max_length: maxLength, padding: false, return_tensor: false }).input_ids;
    },
    encodeFull(texts) {
      if (texts.length === 0) return [];
      // without padding and truncation xenova cuts nothing, whatever model_max_length says
      return tok(prepare(texts), { truncation: false, padding: false, return_tensor: false }).input_ids;
    },
  };
}
