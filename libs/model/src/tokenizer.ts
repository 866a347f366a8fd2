import path from 'node:path';
import { AutoTokenizer, env } from '@xenova/transformers';

/** The part of a transformers.js tokenizer used here. */
interface XenovaTokenizer {
  (texts: string[], options: { truncation: boolean; max_length: number; padding: boolean; return_tensor: false }): { input_ids: number[][] };
  pad_token_id?: number;
  model_max_length: number;
}

export interface Tokenizer {
  padId: number;
  /** Token ids per text, truncated to maxLength, not padded. Texts are first cut to maxTextChars. */
  encode(texts: string[]): number[][];
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
  // config.json's max_length is authoritative; transformers.js also caps at model_max_length
  // (and computes NaN lengths when tokenizer_config.json lacks it).
  tok.model_max_length = maxLength;
  return {
    padId: tok.pad_token_id ?? 0,
    encode(texts) {
      if (texts.length === 0) return [];
      const clipped = texts.map((t) => (t.length > maxTextChars ? t.slice(0, maxTextChars) : t));
      return tok(clipped, { truncation: true, max_length: maxLength, padding: false, return_tensor: false }).input_ids;
    },
  };
}
