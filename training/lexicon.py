"""Lexicon priors (AFINN, VADER) as per-token features.

The table is indexed by token id and baked into the ONNX graph as a constant,
so the model inputs stay `input_ids` / `attention_mask`. Lexicon scores are
what makes rule-based scorers strong on out-of-domain reviews; giving them to
the BiLSTM lets it use that knowledge for words the training set rarely has.
"""
import json
import os
import re

import numpy as np

from common import NODE_MODULES

AFINN_PATH = os.path.join(NODE_MODULES, "sentiment", "languages", "en", "labels.json")
VADER_PATH = os.path.join(NODE_MODULES, "vader-sentiment", "vader_lexicon.txt")
VADER_JS = os.path.join(NODE_MODULES, "vader-sentiment", "src", "vaderSentiment.js")

FEATURES = ["afinn", "vader", "in_lexicon", "negator", "booster", "contrast"]
CONTRAST = {"but", "however", "although", "though", "yet", "nevertheless"}


def load_afinn():
    with open(AFINN_PATH, encoding="utf-8") as f:
        return {k: float(v) for k, v in json.load(f).items()}


def load_vader():
    out = {}
    with open(VADER_PATH, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                try:
                    out[parts[0]] = float(parts[1])
                except ValueError:
                    pass
    return out


def _js_array(src, name):
    m = re.search(rf"export const {name} = \[(.*?)\];", src, re.S)
    if not m:
        return []
    return [a or b for a, b in re.findall(r"'([^']*)'|\"([^\"]*)\"", m.group(1))]


def load_vader_rules():
    """NEGATE words and BOOSTER_DICT (+1 increment / -1 decrement) from VADER's JS."""
    with open(VADER_JS, encoding="utf-8") as f:
        src = f.read()
    negate = {w for w in _js_array(src, "NEGATE") if "'" not in w}
    negate |= {"n't", "no", "not", "never", "none", "nothing", "nobody", "neither", "nor", "without"}
    boost = {}
    m = re.search(r"export const BOOSTER_DICT = \{(.*?)\};", src, re.S)
    if m:
        for key, val in re.findall(r"['\"]?([a-z][a-z' -]*?)['\"]?\s*:\s*(B_INCR|B_DECR)", m.group(1)):
            boost[key.strip()] = 1.0 if val == "B_INCR" else -1.0
    return negate, boost


def all_entries():
    """Raw lexicon entries; Node pre-tokenizes them so that only entries that
    our tokenizer sees as one token are added to the vocabulary."""
    return set(load_afinn()) | set(load_vader())


def feature_table(vocab):
    """float32 [vocab_size, len(FEATURES)], scaled to roughly [-1, 1]."""
    afinn, vader = load_afinn(), load_vader()
    negate, boost = load_vader_rules()
    table = np.zeros((len(vocab), len(FEATURES)), dtype=np.float32)
    for tok, i in vocab.items():
        if tok.startswith("##") or tok.startswith("["):
            continue
        a, v = afinn.get(tok), vader.get(tok)
        if a is not None:
            table[i, 0] = a / 5.0
        if v is not None:
            table[i, 1] = v / 4.0
        table[i, 2] = 1.0 if (a is not None or v is not None) else 0.0
        table[i, 3] = 1.0 if tok in negate else 0.0
        table[i, 4] = boost.get(tok, 0.0)
        table[i, 5] = 1.0 if tok in CONTRAST else 0.0
    return table
