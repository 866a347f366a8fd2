"""Shared paths, dataset specs and small helpers for the training pipeline.

Every stage (vocab, train, export) imports this so that file locations and
label names are defined once.
"""
import os
import sys

TRAINING_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(TRAINING_DIR)
WORK_DIR = os.path.join(TRAINING_DIR, ".work")          # git-ignored scratch space
MODELS_DIR = os.path.join(REPO_DIR, "models")
NODE_MODULES = os.path.join(REPO_DIR, "node_modules")

# One entry per servable model. `train`/`dev` are relative to DATA_DIR. `version` goes into
# config.json and every event the scorer publishes: bump it whenever the recipe changes.
DATASETS = {
    "sst2-bilstm": {
        # 1.0.0: 3-model ensemble, 3 epochs; 1.1.0: one model, 5 epochs + EMA;
        # 2.0.0: distilled from sst2-minilm over an augmented transfer set, emoji names, long texts in windows;
        # 2.1.0: a transfer set 3x as large (12 augmented samples per training text instead of 3)
        "version": "2.1.0",
        "dataset": "sst2",
        "train": "sst2/train.tsv",
        "dev": "sst2/dev.tsv",
        "labels": ["negative", "positive"],
        "text_column": "sentence",
    },
    "tweeteval-bilstm": {
        # 2.0.0: distilled from tweeteval-minilm over an augmented transfer set, emoji names, windows
        # 2.1.0: the same recipe, distilled from tweeteval-minilm 1.1.0 (macro-recall 0.7155 -> 0.7169)
        # 2.2.0: hidden 160 instead of 128, 3 epochs instead of 2 (0.7169 -> 0.7242)
        "version": "2.2.0",
        "dataset": "tweeteval-sentiment",
        "train": "tweeteval-sentiment/train.tsv",
        "dev": "tweeteval-sentiment/dev.tsv",
        "labels": ["negative", "neutral", "positive"],
        "text_column": "text",
    },
    # The fine-tuned MiniLM teachers (teacher.py), shipped int8 as an option beside the BiLSTMs.
    "sst2-minilm": {
        # 1.1.0: peak learning rate 1e-4 instead of 6e-5, seed 21 (dev 0.8899 -> 0.8968 int8; training/teacher_runs.json)
        "version": "1.1.0",
        "dataset": "sst2",
        "train": "sst2/train.tsv",
        "dev": "sst2/dev.tsv",
        "labels": ["negative", "positive"],
        "text_column": "sentence",
    },
    "tweeteval-minilm": {
        # 1.1.0: seed 21 at 1.0.0's recipe (macro-recall 0.7306 -> 0.7359 int8; training/teacher_runs.json)
        "version": "1.1.0",
        "dataset": "tweeteval-sentiment",
        "train": "tweeteval-sentiment/train.tsv",
        "dev": "tweeteval-sentiment/dev.tsv",
        "labels": ["negative", "neutral", "positive"],
        "text_column": "text",
    },
}


def die(msg):
    """One clear line on stderr instead of a traceback (e.g. missing data)."""
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def data_dir():
    d = os.environ.get("DATA_DIR") or os.path.join(REPO_DIR, "..", "shared", "datasets")
    return os.path.abspath(d)


def dataset_paths(model_name):
    if model_name not in DATASETS:
        die(f"unknown model '{model_name}' (expected one of: {', '.join(DATASETS)})")
    spec = DATASETS[model_name]
    root = data_dir()
    paths = {}
    for split in ("train", "dev"):
        p = os.path.join(root, spec[split])
        if not os.path.isfile(p):
            die(f"dataset file not found: {p} (set DATA_DIR to the shared datasets folder)")
        paths[split] = p
    return paths


def read_tsv(path):
    """Read `text<TAB>label` rows. The files are NOT quote-aware CSV: a '"' is a
    literal character, so we split each line at the (single) TAB ourselves."""
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        header = f.readline()
        if "\t" not in header:
            die(f"{path}: expected a 'text<TAB>label' header line")
        for n, line in enumerate(f, start=2):
            line = line.rstrip("\n")
            if not line:
                continue
            text, sep, label = line.rpartition("\t")
            if not sep or not label.isdigit():
                die(f"{path}:{n}: malformed row (expected text<TAB>digit)")
            texts.append(text)
            labels.append(int(label))
    return texts, labels


def work_dir(run_name):
    d = os.path.join(WORK_DIR, run_name)
    os.makedirs(d, exist_ok=True)
    return d


def log(msg):
    print(msg, file=sys.stderr, flush=True)
