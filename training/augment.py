"""The transfer set for distillation: the training texts plus texts made from them, all labelled
by the fine-tuned teacher (teacher.py logits), after Tang et al. 2019 ("Distilling Task-Specific
Knowledge from BERT into Simple Neural Networks"), section 3.2, plus templates of our own.

  python3 augment.py RUN_DIR --model sst2-bilstm --per-text 1.2 --seed 13   # -> RUN_DIR/transfer.txt

Per original text, with the paper's probabilities:
- masking (p 0.1 per word): the word becomes [MASK] in the teacher's input and [UNK] in the
  student's (the student's tokenizer has no [MASK]; its [UNK] embedding is what it sees for words
  it does not know). Written as the placeholder MASK_TOKEN and swapped per tokenizer.
- same-tag replacement (p 0.1 per word): another word of the same tag, drawn by its frequency
  among that tag's words. No trained POS tagger is installable here (Debian ships NLTK without its
  tagger data), so the tag is a heuristic one: closed-class word lists (determiners, pronouns,
  prepositions, conjunctions, auxiliaries, negators), suffixes (-ly, -ing, -ed, -s) and the
  lexicon's polarity (AFINN positive / negative word), else "other". Coarser than a tagger, and the
  teacher relabels whatever comes out, which is what makes the transfer set useful.
- n-gram sampling (p 0.25 per sample): an n-gram of 1-5 words of the result instead of all of it.
Texts of our own, labelled by the teacher like the rest:
- negation templates ("not X", "never X", "no X", "X? not at all") over lexicon-polar words;
- contrast templates ("A, but B", "although A, B", "A; however, B") over pairs of training
  phrases of opposite gold labels;
- emoji: training texts with a sentiment-bearing or neutral emoji added, replacing a polar word, or
  alone (the tokenizer reads them as their CLDR names, emoji.json);
- long texts: 3-8 training sentences in a row, so the student sees multi-sentence reviews.
"""
import argparse
import collections
import json
import os
import random

import lexicon
from common import DATASETS, dataset_paths, log, read_tsv

MASK_TOKEN = "\u2063MASK\u2063"      # placeholder, swapped for [MASK] / [UNK] by tokenize-corpus.mjs

DET = set("a an the this that these those some any each every all both either neither no my your his her its our their".split())
PRON = set("i me you he him she it we us they them myself yourself himself herself itself ourselves themselves "
           "who whom whose which what".split())
PREP = set("of in on at by for with about against between into through during before after above below to from "
           "up down out off over under again further than as like via per".split())
CONJ = set("and or but so yet nor although though because while whereas if unless however".split())
AUX = set("is are was were be been being am do does did have has had will would shall should can could may might "
          "must 's 're 've 'll 'd 'm".split())
NEG = set("not n't no never nothing nobody none nowhere neither without".split())

# Emoji with the sentiment their CLDR name carries; the teacher decides what they do to a text.
EMOJI_POS = list("😍🥰😊😀😁😂🤣😎🥳👍👏🙌💯🎉❤💕✨🔥😘🤩")
EMOJI_NEG = list("😡😠🤬😤😢😭😞😒🙄🤮👎💔😩😫😱🤢😖😔")
EMOJI_NEU = list("🍕☕🚌📱💻📺🏠🚗✈📚🎵🐶⚽📷🌧")

NEG_TEMPLATES = ["not {w}", "not {w} at all", "never {w}", "it was not {w}", "it is n't {w}", "hardly {w}",
                 "no {w} here", "not very {w}", "i would n't call it {w}", "nothing {w} about it",
                 "not at all {w}", "far from {w}"]
CONTRAST_TEMPLATES = ["{a} , but {b}", "{a} but {b}", "although {a} , {b}", "{a} ; however , {b}",
                      "{a} , yet {b}", "despite {a} , {b}", "{a} . still , {b}", "{a} , though {b}"]


def tagger():
    afinn = lexicon.load_afinn()

    def tag(w):
        lw = w.lower()
        for name, words in (("det", DET), ("pron", PRON), ("prep", PREP), ("conj", CONJ), ("aux", AUX), ("neg", NEG)):
            if lw in words:
                return name
        if not any(ch.isalpha() for ch in lw):
            return "punct" if not any(ch.isdigit() for ch in lw) else "num"
        if lw.startswith("@") or lw.startswith("http"):
            return "special"
        v = afinn.get(lw)
        if v is not None:
            return "pos" if v > 0 else "neg_word"
        for suffix, name in (("ly", "adv"), ("ing", "ving"), ("ed", "ved"), ("s", "plural")):
            if lw.endswith(suffix) and len(lw) > len(suffix) + 2:
                return name
        return "other"
    return tag


def build_sampler(texts, tag):
    by_tag = collections.defaultdict(collections.Counter)
    for t in texts:
        for w in t.split():
            by_tag[tag(w)][w] += 1
    samplers = {}
    for k, counter in by_tag.items():
        words = list(counter)
        weights = [counter[w] for w in words]
        cum, s = [], 0
        for x in weights:
            s += x
            cum.append(s)
        samplers[k] = (words, cum, s)
    return samplers


def draw(rng, sampler):
    import bisect
    words, cum, total = sampler
    return words[bisect.bisect_right(cum, rng.random() * total)]


def augment_one(rng, text, tag, samplers, p_mask=0.1, p_pos=0.1, p_ng=0.25):
    words = text.split()
    out = []
    for w in words:
        r = rng.random()
        if r < p_mask:
            out.append(MASK_TOKEN)
        elif r < p_mask + p_pos:
            t = tag(w)
            out.append(draw(rng, samplers[t]) if t not in ("punct", "special", "num") else w)
        else:
            out.append(w)
    if rng.random() < p_ng and len(out) > 2:
        n = rng.randint(1, min(5, len(out)))
        start = rng.randint(0, len(out) - n)
        out = out[start:start + n]
    return " ".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--model", required=True, choices=list(DATASETS))
    ap.add_argument("--per-text", type=float, default=1.0, help="augmented samples per training text")
    ap.add_argument("--templates", type=int, default=6000, help="negation + contrast texts")
    ap.add_argument("--emoji", type=int, default=6000)
    ap.add_argument("--long", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    texts, labels = read_tsv(dataset_paths(args.model)["train"])
    tag = tagger()
    samplers = build_sampler(texts, tag)
    afinn = lexicon.load_afinn()
    vocab_words = collections.Counter(w for t in texts for w in t.lower().split())
    polar = [w for w in afinn if " " not in w and vocab_words[w] >= 3]
    polar.sort()
    multi_word = [t for t in texts if len(t.split()) >= 4]
    sentences = [t for t in texts if len(t.split()) >= 8]
    n_classes = len(DATASETS[args.model]["labels"])
    by_label = collections.defaultdict(list)
    for t, y in zip(texts, labels):
        if len(t.split()) >= 3:
            by_label[y].append(t)
    top, bottom = n_classes - 1, 0          # positive / negative label index

    out = []                                # (text, source)
    for t in texts:
        out.append((t, "original"))
    n_aug = int(len(texts) * args.per_text)
    # longer texts carry more context per sample: draw them twice as often as 1-3 word phrases
    weights = [2.0 if len(t.split()) > 3 else 1.0 for t in texts]
    for t in rng.choices(texts, weights=weights, k=n_aug):
        a = augment_one(rng, t, tag, samplers)
        if a.strip():
            out.append((a, "augmented"))
    for _ in range(args.templates // 2):
        w = rng.choice(polar)
        out.append((rng.choice(NEG_TEMPLATES).format(w=w), "negation"))
    for _ in range(args.templates - args.templates // 2):
        a, b = rng.choice(by_label[top]), rng.choice(by_label[bottom])
        if rng.random() < 0.5:
            a, b = b, a
        out.append((rng.choice(CONTRAST_TEMPLATES).format(a=a, b=b), "contrast"))
    for _ in range(args.emoji):
        r = rng.random()
        pool = rng.choice([EMOJI_POS, EMOJI_NEG, EMOJI_NEU])
        e = "".join(rng.choice(pool) for _ in range(rng.choice([1, 1, 1, 2, 3])))
        t = rng.choice(multi_word)
        if r < 0.15:
            out.append((e, "emoji"))
        elif r < 0.75:
            out.append((f"{t} {e}" if rng.random() < 0.8 else f"{e} {t}", "emoji"))
        else:
            words = t.split()
            idx = [i for i, w in enumerate(words) if tag(w) in ("pos", "neg_word")]
            if idx:
                words[rng.choice(idx)] = e
                out.append((" ".join(words), "emoji"))
            else:
                out.append((f"{t} {e}", "emoji"))
    for _ in range(args.long):
        k = rng.randint(3, 8)
        out.append((" ".join(rng.choice(sentences) for _ in range(k)), "long"))
    with open(os.path.join(args.run_dir, "transfer.txt"), "w", encoding="utf-8") as f:
        for t, _ in out:
            f.write(t.replace("\n", " ") + "\n")
    with open(os.path.join(args.run_dir, "transfer.sources"), "w") as f:
        for _, s in out:
            f.write(s + "\n")
    gold = labels + [-1] * (len(out) - len(texts))       # gold labels for the originals only
    with open(os.path.join(args.run_dir, "transfer.gold"), "w") as f:
        f.write("\n".join(map(str, gold)) + "\n")
    counts = collections.Counter(s for _, s in out)
    log(f"transfer set: {len(out)} texts {dict(counts)}")


if __name__ == "__main__":
    main()
