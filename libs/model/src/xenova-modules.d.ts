// The two modules of @xenova/transformers that tokenizer.ts imports directly (the package has no
// "exports" map, so they resolve; its types describe only its entry). Same objects as the entry's.
declare module '@xenova/transformers/src/tokenizers.js' {
  export { AutoTokenizer } from '@xenova/transformers';
}
declare module '@xenova/transformers/src/env.js' {
  export { env } from '@xenova/transformers';
}
