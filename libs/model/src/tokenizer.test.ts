import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer, env } from '@xenova/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { compileReplaceNormalizers, describeEmoji, loadTokenizer, readEmojiNames } from './tokenizer.js';

const names = { '😍': 'smiling face with heart-eyes', '👍': 'thumbs up', '😡': 'enraged face', '❤': 'red heart', '🔥': 'fire', '👨': 'man', '💻': 'laptop', '❤\u200D🔥': 'heart on fire' };

describe('describeEmoji', () => {
  it('replaces each emoji by its name, spaced off as words', () => {
    expect(describeEmoji('love it😍', names)).toBe('love it smiling face with heart-eyes ');
    expect(describeEmoji('😡😡 no', names)).toBe(' enraged face  enraged face  no');
  });

  it('drops skin tones and variation selectors before the look-up', () => {
    expect(describeEmoji('👍🏽', names)).toBe(' thumbs up ');
    expect(describeEmoji('❤\uFE0F', names)).toBe(' red heart ');
  });

  it('names a ZWJ sequence as a whole when it can, else by its parts', () => {
    expect(describeEmoji('❤\uFE0F\u200D🔥', names)).toBe(' heart on fire ');
    expect(describeEmoji('👨\u200D💻', names)).toBe(' man laptop ');
  });

  it('turns a flag into "flag" and leaves unknown emoji and plain text alone', () => {
    expect(describeEmoji('go 🇫🇷!', names)).toBe('go  flag !');
    expect(describeEmoji('🦖 ok :) 100%', names)).toBe('🦖 ok :) 100%');
  });
});

const root = mkdtempSync(path.join(tmpdir(), 'tokenizer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A tiny WordPiece tokenizer.json; `bert` adds [CLS]/[SEP] like the MiniLM folders. */
function folder(name: string, bert: boolean, emoji?: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  const vocab: Record<string, number> = { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, love: 4, it: 5, thumbs: 6, up: 7, a: 8 };
  const post = bert
    ? {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
        pair: [],
        special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
      }
    : null;
  const added = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  writeFileSync(
    path.join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: { type: 'Lowercase' },
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: post,
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
    }),
  );
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'PreTrainedTokenizer', model_max_length: 4, pad_token: '[PAD]', unk_token: '[UNK]' }));
  if (emoji !== undefined) writeFileSync(path.join(dir, 'emoji.json'), emoji);
  return dir;
}

describe('loadTokenizer', () => {
  it('finds the specials around a text: [CLS]/[SEP] for a BERT tokenizer, none otherwise', async () => {
    const bert = await loadTokenizer(folder('bert', true), 4, 1000);
    expect([bert.prefix, bert.suffix]).toEqual([[2], [3]]);
    const plain = await loadTokenizer(folder('plain', false), 4, 1000);
    expect([plain.prefix, plain.suffix]).toEqual([[], []]);
  });

  it('encode cuts at max_length, encodeFull does not', async () => {
    const tok = await loadTokenizer(folder('cut', false), 4, 1000);
    expect(tok.encode(['love it love it love'])).toEqual([[4, 5, 4, 5]]);
    expect(tok.encodeFull(['love it love it love'])).toEqual([[4, 5, 4, 5, 4]]);
    expect(tok.encodeFull([])).toEqual([]);
  });

  it("applies the folder's emoji.json before tokenizing; without one emoji stay as they are", async () => {
    const withNames = await loadTokenizer(folder('emoji', true, JSON.stringify({ source: 'test', names: { '👍': 'thumbs up' } })), 16, 1000);
    expect(withNames.emoji?.source).toBe('test');
    expect(withNames.encodeFull(['love it👍🏾'])).toEqual([[2, 4, 5, 6, 7, 3]]);
    const without = await loadTokenizer(folder('no-emoji', true), 16, 1000);
    expect(without.emoji).toBeNull();
    expect(without.encodeFull(['love it👍'])).toEqual([[2, 4, 5, 1, 3]]);
  });

  it('rejects a malformed emoji.json with a message naming it', () => {
    expect(() => readEmojiNames(folder('bad-emoji', false, '{"names": {"👍": 1}}'))).toThrow(/emoji\.json must be/);
    expect(() => readEmojiNames(folder('bad-json', false, '{'))).toThrow(/emoji\.json is not valid JSON/);
  });
});

describe('compileReplaceNormalizers', () => {
  const modelsDir = path.resolve(import.meta.dirname, '../../../models');
  const folders = ['sst2-bilstm', 'tweeteval-bilstm', 'sst2-minilm', 'tweeteval-minilm'];
  // What each Replace normalizer of our folders is there for, and text around them.
  const crafted = [
    'I can\u2019t believe it\u2019s \u201cgreat\u201d\u2026 ``really\'\' &amp; &lt;3 &quot;ok&quot; &#39;no&#39;',
    'gonna wanna gotta cant cannot dont wont aint im IM Im, isnt wasnt shouldnt n\'t',
    'see https://t.co/abc?x=1 and www.example.com/a, or http:// alone',
    'thumbs \u{1F44D}\u{1F3FD} heart \u2764\uFE0F zwj \u{1F468}\u200D\u{1F4BB} \u00b4 \u2032 \u201b ` \u201e \u2033',
    'caf\u00e9 \uFB01ne \u2460 \uFF21\uFF22 $& $1 # & ~ \\# \\&',
    '',
  ];
  const dataDir = process.env.DATA_DIR ?? path.resolve(import.meta.dirname, '../../../../shared/datasets');
  const devTexts = (file: string) => {
    const f = path.join(dataDir, file);
    if (!existsSync(f)) throw new Error(`${f} not found: the shared datasets sit beside the repo (or set DATA_DIR)`);
    return readFileSync(f, 'utf8').split('\n').slice(1).map((l) => l.split('\t')[0]!).filter((t) => t !== '');
  };
  const texts = [
    ...crafted,
    ...folders.flatMap((f) => readFileSync(path.join(modelsDir, f, 'parity.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { text: string }).text)),
    ...devTexts('sst2/dev.tsv'),
    ...devTexts('tweeteval-sentiment/dev.tsv'),
  ];

  it.each(folders)('%s: compiled once, the normalizers give the same text and ids as transformers.js', async (name) => {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = modelsDir + path.sep;
    type Tok = { normalizer: { normalize(t: string): string }; (t: string[], o: object): { input_ids: number[][] } };
    const library = (await AutoTokenizer.from_pretrained(name)) as unknown as Tok;
    const compiled = (await AutoTokenizer.from_pretrained(name)) as unknown as Tok;
    expect(compiled.normalizer).not.toBe(library.normalizer);
    compileReplaceNormalizers(compiled.normalizer);
    const inner = (compiled.normalizer as unknown as { normalizers: { normalize: unknown }[] }).normalizers;
    // Its Replace members now carry their own normalize, with the pattern compiled once.
    expect(inner.filter((n) => Object.hasOwn(n, 'normalize')).length).toBe(name.includes('bilstm') ? 18 : 8);
    for (const t of texts) expect(compiled.normalizer.normalize(t), t).toBe(library.normalizer.normalize(t));
    const opts = { truncation: false, padding: false, return_tensor: false };
    expect(compiled(texts, opts).input_ids).toEqual(library(texts, opts).input_ids);
  });
});

describe('what loading the tokenizer maps into the process', () => {
  const dist = new URL('../dist/tokenizer.js', import.meta.url);
  const model = path.resolve(import.meta.dirname, '../../../models/sst2-bilstm');
  /** Loads a tokenizer in a fresh process (the built library's, or through the package's entry) and says whether sharp's libvips got mapped. */
  const load = (via: 'library' | 'entry') => {
    const script =
      via === 'library'
        ? `const { loadTokenizer } = await import(${JSON.stringify(dist.href)}); const ids = (await loadTokenizer(${JSON.stringify(model)}, 128, 20000)).encode(['a great movie'])[0];`
        : `const { AutoTokenizer, env } = await import('@xenova/transformers'); env.allowRemoteModels = false; env.localModelPath = ${JSON.stringify(path.dirname(model) + path.sep)}; const ids = (await AutoTokenizer.from_pretrained('sst2-bilstm'))(['a great movie'], { return_tensor: false }).input_ids[0];`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `${script} const { readFileSync } = await import('node:fs'); process.stdout.write(JSON.stringify({ ids, sharp: /libvips/.test(readFileSync('/proc/self/maps', 'utf8')) }));`], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
    });
    return JSON.parse(out) as { ids: number[]; sharp: boolean };
  };

  it('no image library: the tokenizer imports only the modules it calls (12 MB less RSS)', () => {
    expect(existsSync(fileURLToPath(dist)), `${fileURLToPath(dist)} is missing: build first (npx tsc -b)`).toBe(true);
    const library = load('library');
    const entry = load('entry');
    // The check can fail: the package's entry does map libvips.
    expect(entry.sharp).toBe(true);
    expect(library.sharp).toBe(false);
    expect(library.ids.length).toBeGreaterThan(1);
    expect(library.ids).toEqual(entry.ids);
  });
});
