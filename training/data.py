"""Dataset preparation and batching.

`prepare` writes the raw texts one per line for the Node tokenizer; `load_split`
reads back the ids Node produced. Batches are bucketed by length so that a
batch of short SST phrases does not pay for one long sentence.
"""
import json
import os
import random

import torch

from common import DATASETS, dataset_paths, read_tsv, log


def prepare(model_name, work):
    """Write train/dev texts (one per line) + labels; returns the label counts."""
    paths = dataset_paths(model_name)
    for split, path in paths.items():
        texts, labels = read_tsv(path)
        n_labels = len(DATASETS[model_name]["labels"])
        bad = [l for l in labels if l >= n_labels]
        if bad:
            raise SystemExit(f"error: {path}: label {bad[0]} out of range for {n_labels} classes")
        with open(os.path.join(work, f"{split}.txt"), "w", encoding="utf-8") as f:
            for t in texts:
                # Texts contain no newlines (dataset README); guard anyway.
                f.write(t.replace("\n", " ") + "\n")
        with open(os.path.join(work, f"{split}.labels"), "w") as f:
            f.write("\n".join(map(str, labels)) + "\n")
        log(f"{split}: {len(texts)} rows from {path}")


def load_split(work, split):
    with open(os.path.join(work, f"{split}.ids.jsonl")) as f:
        ids = [json.loads(line) for line in f]
    with open(os.path.join(work, f"{split}.labels")) as f:
        labels = [int(x) for x in f.read().split()]
    assert len(ids) == len(labels), f"{split}: {len(ids)} id rows vs {len(labels)} labels"
    return ids, labels


def pad_batch(seqs):
    """Right-pad with id 0 ([PAD]) and build the attention mask, like xenova."""
    T = max(1, max(len(s) for s in seqs))
    ids = torch.zeros(len(seqs), T, dtype=torch.long)
    mask = torch.zeros(len(seqs), T, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
    return ids, mask


def bucket_batches(ids, labels, batch_size, rng, shuffle=True):
    """Yield (input_ids, attention_mask, labels) with similar lengths per batch."""
    order = list(range(len(ids)))
    if shuffle:
        rng.shuffle(order)
        # sort inside chunks of 50 batches: batches are length-homogeneous but
        # the order of examples still changes every epoch
        chunk = batch_size * 50
        order = [i for k in range(0, len(order), chunk)
                 for i in sorted(order[k:k + chunk], key=lambda j: len(ids[j]))]
    else:
        order.sort(key=lambda j: len(ids[j]))
    batches = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(batches)
    for b in batches:
        x, m = pad_batch([ids[j] for j in b])
        yield x, m, torch.tensor([labels[j] for j in b]), b


def token_counts(ids, vocab_size):
    c = torch.zeros(vocab_size, dtype=torch.long)
    for s in ids:
        if s:
            c.index_add_(0, torch.tensor(s), torch.ones(len(s), dtype=torch.long))
    return c
