"""How much ensembling buys: dev accuracy of every member alone, the mean over
all k-member ensembles (logits averaged), and all members together.

  python3 training/ensemble_study.py RUN_DIR [RUN_DIR ...] [--k 3]

Each RUN_DIR is a train.py run (one model or an ensemble) on the same
tokenizer; members are taken in their exported form (fp16 weights), as shipped.
"""
import argparse
import itertools
import os

import torch

import data
from export import load_model
from model import Ensemble


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--k", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ids, y = data.load_split(args.runs[0], "dev")
    y = torch.tensor(y)
    logits = {}
    with torch.no_grad():
        for run in args.runs:
            model, _ = load_model(run)
            members = model.members if isinstance(model, Ensemble) else [model]
            for n, member in enumerate(members):
                out = torch.zeros(len(ids), int(y.max()) + 1)
                for x, m, _, idx in data.bucket_batches(ids, [0] * len(ids), 256, None, shuffle=False):
                    out[idx] = member(x, m)
                logits[f"{os.path.basename(os.path.normpath(run))}#{n}"] = out
    acc = lambda l: (l.argmax(1) == y).float().mean().item()
    for name, l in logits.items():
        print(f"{name}: {acc(l):.4f}")
    singles = [acc(l) for l in logits.values()]
    print(f"{len(singles)} models alone: mean {sum(singles) / len(singles):.4f}")
    for k in sorted({args.k, len(logits)}):
        accs = [acc(sum(logits[n] for n in c)) for c in itertools.combinations(logits, k)]
        print(f"{len(accs)} ensembles of {k}: mean {sum(accs) / len(accs):.4f}, "
              f"min {min(accs):.4f}, max {max(accs):.4f}")


if __name__ == "__main__":
    main()
