"""Tokenizer: the normalizer / pre-tokenizer spec and a small WordPiece trainer.

The tokenizer is written as a Hugging Face `tokenizer.json` that
@xenova/transformers loads offline. Training ids are produced by that same
JS tokenizer (tokenize-corpus.mjs), so Python never re-implements the
normalization; it only *builds the vocabulary* from words that Node
pre-tokenized (pretokenize.mjs) with a bootstrap copy of the same spec.

Usage:
  python3 vocab.py bootstrap OUT_DIR             # spec with specials only
  python3 vocab.py build OUT_DIR WORDS_FILE [--pieces N] [--min-count N]
"""
import argparse
import collections
import json
import os
import sys

import lexicon
from common import log

PAD, UNK = "[PAD]", "[UNK]"

# Characters that xenova's word class treats as "word" characters
# (\p{L} letters, \p{M} combining marks, \p{N} numbers).
W = r"\p{L}\p{M}\p{N}"
NOT_IN_WORD = rf"(?![{W}])"     # JS \b is ASCII-only even with /u, so use look-arounds
NOT_AFTER_WORD = rf"(?<![{W}])"


def _replace_regex(pattern, content):
    return {"type": "Replace", "pattern": {"Regex": pattern}, "content": content}


def _replace_string(s, content):
    return {"type": "Replace", "pattern": {"String": s}, "content": content}


def normalizer_spec():
    """Map raw text and SST's Penn-Treebank text onto one form.

    SST-2 is lowercased and PTB-tokenized ("does n't", "it 's", "``", "''");
    live messages are raw ("doesn't", "it's", curly quotes, HTML entities).
    We bring raw text to the PTB form, because splitting is easy to do with
    regex replaces while re-joining PTB text would need a dictionary.
    xenova compiles every Regex with the 'gu' flags and applies Replace with
    String.prototype.replaceAll, so `$1` group references work (used below).
    """
    raw_negations = ["do", "does", "did", "is", "are", "was", "were", "has", "have", "had",
                     "could", "would", "should", "must", "need", "ai", "wo"]
    rules = [
        {"type": "NFKC"},                       # full-width forms, ligatures, etc.
        # PTB quotes -> plain double quote (SST writes `` and '').
        _replace_string("``", '"'),
        _replace_string("''", '"'),
        # Typographic quotes/apostrophes (NFKC keeps them) -> ASCII.
        _replace_regex("[\u2018\u2019\u201b\u00b4\u2032`]", "'"),
        _replace_regex("[\u201c\u201d\u201e\u2033]", '"'),
        {"type": "Lowercase"},
        # HTML entities left in tweets.
        _replace_string("&amp;", "&"),
        _replace_string("&lt;", "<"),
        _replace_string("&gt;", ">"),
        _replace_string("&quot;", '"'),
        _replace_string("&#39;", "'"),
        # URLs carry no sentiment; collapse them to one token.
        _replace_regex(r"https?://\S+|www\.\S+", " http "),
        # Emoji modifiers/joiners: keep the base emoji as one symbol.
        _replace_regex("[\ufe0e\ufe0f\u200d\U0001F3FB-\U0001F3FF]", ""),
        # --- raw contractions -> PTB split form (negation matters most) ---
        # "doesn't" -> "does n't", "can't" -> "ca n't", "won't" -> "wo n't"
        # (PTB's own split), and "does n't" is left as it is.
        _replace_regex(rf"n't{NOT_IN_WORD}", " n't"),
        # Apostrophe-less tweet spellings: "dont" -> "do n't", "cant" -> "ca n't".
        _replace_regex(rf"{NOT_AFTER_WORD}({'|'.join(raw_negations)})nt{NOT_IN_WORD}", "$1 n't"),
        _replace_regex(rf"{NOT_AFTER_WORD}cant{NOT_IN_WORD}", "ca n't"),
        _replace_regex(rf"{NOT_AFTER_WORD}cannot{NOT_IN_WORD}", "can not"),
        _replace_regex(rf"{NOT_AFTER_WORD}(gon|wan)na{NOT_IN_WORD}", "$1 na"),
        _replace_regex(rf"{NOT_AFTER_WORD}gotta{NOT_IN_WORD}", "got ta"),
        _replace_regex(rf"{NOT_AFTER_WORD}im{NOT_IN_WORD}", "i 'm"),
        # "it's" / "we're" / "i'll" / "they've" / "i'm" / "he'd": the clitic is
        # split off by the pre-tokenizer below (no replace needed).
    ]
    return {"type": "Sequence", "normalizers": rules}


def pretokenizer_regex():
    """One regex whose matches are the pre-tokens (Split, invert=true:
    xenova returns text.match(regex), i.e. whitespace is dropped)."""
    emoticon = r"[:;=]['\-^]?[)(\]\[dpo/\\|*]|<3"
    clitic = rf"n't{NOT_IN_WORD}|'(?:s|re|ve|ll|m|d){NOT_IN_WORD}"
    word = rf"[{W}]+"
    symbol = rf"[^\s{W}]"          # one punctuation mark / emoji code point
    return "|".join([emoticon, clitic, word, symbol])


def pretokenizer_spec():
    return {"type": "Split", "pattern": {"Regex": pretokenizer_regex()},
            "behavior": "Removed", "invert": True}


def tokenizer_json(vocab):
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True} for t in (PAD, UNK)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": normalizer_spec(),
        "pre_tokenizer": pretokenizer_spec(),
        "post_processor": None,          # no [CLS]/[SEP]: the BiLSTM does not need them
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": UNK, "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def tokenizer_config(max_length):
    # model_max_length must be set: xenova computes min(max_length, model_max_length)
    # and an undefined value turns that into NaN.
    return {"tokenizer_class": "PreTrainedTokenizer", "model_max_length": max_length,
            "pad_token": PAD, "unk_token": UNK, "padding_side": "right",
            "clean_up_tokenization_spaces": True}


def write_tokenizer(out_dir, vocab, max_length):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab), f, ensure_ascii=False, indent=1)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(max_length), f, indent=2)


def train_wordpiece(word_counts, lexicon_words, min_count=3, max_words=30000,
                    n_pieces=3000, min_piece_types=3):
    """A small WordPiece-style vocabulary:
    - whole words seen >= min_count times (frequent words stay one token);
    - single-token lexicon words (AFINN/VADER), so the lexicon prior of e.g.
      'overpriced' reaches the model even if the training set never had it;
    - every character seen (as 'c' and '##c'), so any word made of known
      characters can be spelled and nothing known becomes [UNK];
    - the n_pieces most *type*-frequent substrings (length 2..10, '##' when not
      word-initial). Counting over distinct words, not occurrences, favours
      morphemes shared by many words (un-, ##able, ##ness, ##ing) over chunks
      of a few very frequent words. xenova's greedy longest-match then maps an
      unseen word like 'unwatchable' onto 'un ##watch ##able'.
    """
    vocab = {PAD: 0, UNK: 1}

    def add(tok):
        if tok not in vocab:
            vocab[tok] = len(vocab)

    frequent = [w for w, c in sorted(word_counts.items(), key=lambda kv: (-kv[1], kv[0]))
                if c >= min_count][:max_words]
    for w in frequent:
        add(w)
    for w in sorted(lexicon_words):
        add(w)

    chars = collections.Counter()
    for w, c in word_counts.items():
        for i, ch in enumerate(w):
            chars[ch] += c
    for ch, c in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])):
        if c >= 2:
            add(ch)
            if ch.isalnum():
                add("##" + ch)

    piece_types = collections.Counter()
    for w in word_counts:
        n = len(w)
        if n < 3 or not w.isalpha():
            continue
        seen = set()
        for i in range(n):
            for j in range(i + 2, min(n, i + 10) + 1):
                if i == 0 and j == n:
                    continue            # the whole word itself is not a piece
                seen.add(w[i:j] if i == 0 else "##" + w[i:j])
        piece_types.update(seen)
    # ties broken by the piece itself: the counter's order comes from sets, which Python's string
    # hashing shuffles per process, and would give each run a different vocabulary
    pieces = [p for p, c in sorted(piece_types.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_piece_types]
    added = 0
    for p in pieces:
        if added >= n_pieces:
            break
        if p not in vocab:
            add(p)
            added += 1
    log(f"vocab: {len(vocab)} tokens ({len(frequent)} whole words, "
        f"{len(lexicon_words)} lexicon words, {added} pieces)")
    return vocab


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["bootstrap", "build", "lexicon-words"])
    ap.add_argument("out_dir")
    ap.add_argument("words_file", nargs="?")
    ap.add_argument("--lexicon-tokens", help="pre-tokenized lexicon entries (one per line)")
    ap.add_argument("--min-count", type=int, default=3)
    ap.add_argument("--pieces", type=int, default=3000)
    ap.add_argument("--max-words", type=int, default=30000)
    ap.add_argument("--max-length", type=int, default=128)
    args = ap.parse_args()

    if args.stage == "bootstrap":
        write_tokenizer(args.out_dir, {PAD: 0, UNK: 1}, args.max_length)
        return
    if args.stage == "lexicon-words":
        # raw lexicon entries, one per line, for Node to pre-tokenize
        os.makedirs(args.out_dir, exist_ok=True)
        with open(os.path.join(args.out_dir, "lexicon_entries.txt"), "w", encoding="utf-8") as f:
            for w in sorted(lexicon.all_entries()):
                f.write(w + "\n")
        return

    counts = collections.Counter()
    with open(args.words_file, encoding="utf-8") as f:
        for line in f:
            counts.update(line.split())
    lex_words = set()
    if args.lexicon_tokens:
        with open(args.lexicon_tokens, encoding="utf-8") as f:
            for line in f:
                toks = line.split()
                if len(toks) == 1:       # keep entries that stay one pre-token
                    lex_words.add(toks[0])
    vocab = train_wordpiece(counts, lex_words, args.min_count, args.max_words, args.pieces)
    write_tokenizer(args.out_dir, vocab, args.max_length)


if __name__ == "__main__":
    main()
