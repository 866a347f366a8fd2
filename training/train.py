"""Train the sentiment RNN on ids produced by the serving tokenizer.

  python3 train.py RUN_DIR --model sst2-bilstm [--cell gru] [hyperparameters]

Fixed seeds, evaluation on dev several times per epoch, early stopping on the
dev metric (SST-2: accuracy; TweetEval: macro recall, the official metric),
one progress line per evaluation on stderr, curves saved to RUN_DIR/curves.png.
"""
import argparse
import copy
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

import data
import lexicon
from common import DATASETS, log
from model import Ensemble, SentimentRNN


def metrics(y_true, y_pred, n_classes):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recalls, f1s = [], []
    for c in range(n_classes):
        tp = np.sum((y_pred == c) & (y_true == c))
        p = tp / max(np.sum(y_pred == c), 1)
        r = tp / max(np.sum(y_true == c), 1)
        recalls.append(r)
        f1s.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return {"accuracy": float(np.mean(y_true == y_pred)),
            "macro_f1": float(np.mean(f1s)), "macro_recall": float(np.mean(recalls))}


@torch.no_grad()
def evaluate(model, ids, labels, n_classes, batch_size=256):
    was_training = model.training
    model.eval()
    preds, loss, n = [0] * len(ids), 0.0, 0
    for x, m, y, idx in data.bucket_batches(ids, labels, batch_size, None, shuffle=False):
        logits = model(x, m)
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        n += len(idx)
        for j, p in zip(idx, logits.argmax(1).tolist()):
            preds[j] = p
    model.train(was_training)
    out = metrics(labels, preds, n_classes)
    out["loss"] = loss / max(n, 1)
    return out


def plot_curves(histories, path, metric_name):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for k, history in enumerate(histories):
        ep = [h["epoch"] for h in history]
        tag = f" (member {k})" if len(histories) > 1 else ""
        a.plot(ep, [h["train_loss"] for h in history], "-", color=f"C{k}", label="train loss" + tag)
        a.plot(ep, [h["dev"]["loss"] for h in history], "--", color=f"C{k}", label="dev loss" + tag)
        b.plot(ep, [h["dev"]["accuracy"] for h in history], "-", color=f"C{k}", label="dev accuracy" + tag)
        b.plot(ep, [h["dev"]["macro_f1"] for h in history], ":", color=f"C{k}", label="dev macro-F1" + tag)
        b.plot(ep, [h["dev"]["macro_recall"] for h in history], "--", color=f"C{k}", label="dev macro-recall" + tag)
    a.set_xlabel("epoch"); a.set_ylabel("cross-entropy"); a.legend(fontsize=7); a.grid(alpha=.3)
    b.set_xlabel("epoch"); b.set_title(f"early stopping on dev {metric_name}"); b.legend(fontsize=7); b.grid(alpha=.3)
    fig.tight_layout(); fig.savefig(path, dpi=110); plt.close(fig)


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--model", required=True, choices=list(DATASETS))
    ap.add_argument("--cell", default="lstm", choices=["lstm", "gru"])
    ap.add_argument("--emb-dim", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--emb-dropout", type=float, default=0.25)
    ap.add_argument("--word-dropout", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--evals-per-epoch", type=int, default=4)
    ap.add_argument("--patience", type=int, default=6, help="evaluations without improvement")
    ap.add_argument("--class-weights", action="store_true",
                    help="inverse-frequency class weights (imbalanced TweetEval)")
    ap.add_argument("--logit-adjust", action="store_true",
                    help="gold cross-entropy on logits + log(class prior) (Menon et al. 2021): the logits "
                         "themselves stay class-balanced, like a class-weighted teacher's")
    ap.add_argument("--class-weight-power", type=float, default=1.0,
                    help="with --class-weights: (inverse frequency)^p, 0.5 = tempered")
    ap.add_argument("--length-weight", type=float, default=0.0,
                    help="weight each example's loss by (its length)^w: SST dev holds full sentences "
                         "while most training rows are short phrases")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="evaluate and keep an exponential moving average of the weights with this decay "
                         "(0 = off): a flatter optimum than any single step, less sensitive to where "
                         "early stopping happens to land")
    ap.add_argument("--ensemble", type=int, default=1,
                    help="train N models with seeds seed..seed+N-1, exported as one graph")
    ap.add_argument("--max-minutes", type=float, default=25, help="time budget for all members")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--soft", default=None,
                    help="distillation: teacher logits (.npy) for every training row (the transfer set); "
                         "the loss is the MSE to them (Tang et al. 2019), plus --alpha x cross-entropy on "
                         "rows with a gold label (train.labels >= 0)")
    ap.add_argument("--alpha", type=float, default=0.0, help="weight of the gold cross-entropy with --soft")
    ap.add_argument("--init-emb", choices=["random", "teacher"], default="random",
                    help="teacher: start each embedding row whose token the MiniLM teacher's vocabulary also has "
                         "from the teacher's (pretrained, 384-d) word embedding, reduced to --emb-dim by PCA")
    # 1 thread: on this shared 2-core machine OpenMP with 2 threads spends most
    # of its time waiting at barriers (measured ~5x slower under load).
    ap.add_argument("--threads", type=int, default=1)
    return ap.parse_args()


def init_from_teacher_(weight, vocab, seen):
    """Pretrained starting points for the student's embedding: the teacher's word embeddings
    (all-MiniLM-L6-v2, read from the jar's ONNX file) of the same tokens, projected onto their top
    principal components and scaled to the default initialisation's spread (std 1)."""
    import onnx
    from onnx import numpy_helper
    from minilm import ONNX_PATH, TOKENIZER_PATH
    with open(TOKENIZER_PATH, encoding="utf-8") as f:
        bert_vocab = json.load(f)["model"]["vocab"]
    table = next(numpy_helper.to_array(i) for i in onnx.load(ONNX_PATH).graph.initializer
                 if i.name == "embeddings.word_embeddings.weight").astype(np.float32)
    pairs = [(i, bert_vocab[t]) for t, i in vocab.items()
             if t in bert_vocab and not t.startswith("[") and bool(seen[i])]
    rows = table[[b for _, b in pairs]]
    mean = rows.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
    proj = (rows - mean) @ vt[:weight.size(1)].T
    proj /= proj.std()
    with torch.no_grad():
        weight[[i for i, _ in pairs]] = torch.from_numpy(proj.astype(np.float32))
    log(f"embedding: {len(pairs)} of {int(seen.sum())} seen tokens start from the teacher's word embeddings (PCA)")


def ema_update_(ema_model, model, step, decay):
    # the decay ramps up, so early averages do not drag in the random init
    d = min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for e, p in zip(ema_model.parameters(), model.parameters()):
            e.mul_(d).add_(p, alpha=1 - d)


def train_one(args, seed, vocab, lex, data_, n_classes, metric_name, deadline):
    """Train one member; returns (model with the best dev weights, history, best eval)."""
    random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)
    rng = random.Random(seed)
    tr_ids, tr_y, dv_ids, dv_y = data_
    model = SentimentRNN(len(vocab), n_classes, lex, emb_dim=args.emb_dim, hidden=args.hidden,
                         layers=args.layers, cell=args.cell, dropout=args.dropout,
                         emb_dropout=args.emb_dropout, word_dropout=args.word_dropout)
    # Tokens never seen in training (e.g. lexicon words added to the vocab)
    # start at zero instead of random noise and stay there (no gradient):
    # they act only through the lexicon features.
    seen = data.token_counts(tr_ids, len(vocab)) > 0
    if args.init_emb == "teacher":
        init_from_teacher_(model.embedding.weight, vocab, seen)
    with torch.no_grad():
        model.embedding.weight[~seen] = 0.0

    soft = None
    if args.soft:
        soft = torch.from_numpy(np.load(args.soft)).float()
        assert soft.shape == (len(tr_ids), n_classes), f"{args.soft}: shape {tuple(soft.shape)}, want {(len(tr_ids), n_classes)}"
    counts = np.bincount([y for y in tr_y if y >= 0], minlength=n_classes).astype(np.float64)  # gold labels
    weight = None
    if args.class_weights:
        weight = torch.tensor((counts.sum() / (n_classes * counts)) ** args.class_weight_power,
                              dtype=torch.float32)
        log(f"class weights {[round(w, 3) for w in weight.tolist()]}")

    log_prior = None
    if args.logit_adjust:
        log_prior = torch.tensor(np.log(counts / counts.sum()), dtype=torch.float32)
        log(f"logit adjustment {[round(v, 3) for v in log_prior.tolist()]}")

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(tr_ids) / args.batch_size)
    total_steps = int(steps_per_epoch * args.epochs)
    eval_every = max(1, math.ceil(steps_per_epoch / args.evals_per_epoch))
    # linear warm-up (1/4 epoch) then cosine decay to 5 % of the peak
    warm = max(1, steps_per_epoch // 4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * (
        0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, total_steps))))))

    ema_model = copy.deepcopy(model) if args.ema > 0 else None
    scored = ema_model or model           # the weights that are evaluated and kept
    history, best, best_state, bad = [], -1.0, None, 0
    step, run_loss, run_n, t0 = 0, 0.0, 0, time.time()
    stop = False
    model.train()
    while not stop:
        for x, m, y, idx in data.bucket_batches(tr_ids, tr_y, args.batch_size, rng):
            if soft is not None:
                logits = model(x, m)
                loss = F.mse_loss(logits, soft[idx])
                gold = y >= 0
                if args.alpha > 0 and bool(gold.any()):
                    gl = logits[gold] if log_prior is None else logits[gold] + log_prior
                    loss = loss + args.alpha * F.cross_entropy(gl, y[gold], weight=weight)
            elif args.length_weight > 0:
                ce = F.cross_entropy(model(x, m), y, weight=weight, reduction="none")
                w = m.sum(1).clamp(min=1).float() ** args.length_weight
                loss = (ce * w).sum() / w.sum()
            else:
                loss = F.cross_entropy(model(x, m), y, weight=weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step(); sched.step()
            if ema_model is not None:
                ema_update_(ema_model, model, step, args.ema)
            step += 1
            run_loss += loss.item() * len(y); run_n += len(y)
            if step % eval_every == 0 or step == total_steps:
                dev = evaluate(scored, dv_ids, dv_y, n_classes)
                epoch = step / steps_per_epoch
                history.append({"epoch": round(epoch, 3), "step": step,
                                "train_loss": run_loss / run_n, "dev": dev})
                improved = dev[metric_name] > best
                if improved:
                    best, bad = dev[metric_name], 0
                    best_state = {k: v.detach().clone() for k, v in scored.state_dict().items()}
                else:
                    bad += 1
                log(f"[seed {seed}] epoch {epoch:5.2f} step {step:6d} | train loss {run_loss / run_n:.4f} | "
                    f"dev loss {dev['loss']:.4f} acc {dev['accuracy']:.4f} "
                    f"F1 {dev['macro_f1']:.4f} recall {dev['macro_recall']:.4f}"
                    f"{' *' if improved else ''} | lr {sched.get_last_lr()[0]:.2e} | "
                    f"{time.time() - t0:5.0f}s")
                run_loss, run_n = 0.0, 0
                if bad >= args.patience:
                    log(f"early stop: no dev {metric_name} improvement in {bad} evaluations"); stop = True
                elif step >= total_steps:
                    stop = True
                elif time.time() > deadline:
                    log("time budget reached, keeping the best checkpoint so far"); stop = True
                if stop:
                    break
            elif step % 100 == 0:
                log(f"  [seed {seed}] step {step}/{total_steps} loss {run_loss / max(run_n, 1):.4f}")

    model.load_state_dict(best_state)
    model.eval()
    best_eval = next(h for h in history if h["dev"][metric_name] == best)
    return model, history, best_eval, seen


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)  # the machine is shared
    t_start = time.time()
    deadline = t_start + 60 * args.max_minutes

    spec = DATASETS[args.model]
    n_classes = len(spec["labels"])
    metric_name = "accuracy" if n_classes == 2 else "macro_recall"
    with open(os.path.join(args.run_dir, "tokenizer", "tokenizer.json"), encoding="utf-8") as f:
        vocab = json.load(f)["model"]["vocab"]
    tr_ids, tr_y = data.load_split(args.run_dir, "train")
    dv_ids, dv_y = data.load_split(args.run_dir, "dev")
    log(f"train {len(tr_ids)} / dev {len(dv_ids)} examples, vocab {len(vocab)}, {n_classes} classes")
    lex = lexicon.feature_table(vocab)

    members, histories, member_evals = [], [], []
    for k in range(args.ensemble):
        # each member gets an equal share of what is left of the time budget
        share = (deadline - time.time()) / (args.ensemble - k)
        model, hist, best_eval, seen = train_one(args, args.seed + k, vocab, lex,
                                                 (tr_ids, tr_y, dv_ids, dv_y), n_classes,
                                                 metric_name, time.time() + share)
        members.append(model); histories.append(hist); member_evals.append(best_eval)
        log(f"member {k} (seed {args.seed + k}): best dev {metric_name} "
            f"{best_eval['dev'][metric_name]:.4f} at epoch {best_eval['epoch']}")
    final = Ensemble(members) if len(members) > 1 else members[0]
    dev = evaluate(final, dv_ids, dv_y, n_classes)
    train_seconds = round(time.time() - t_start, 1)

    hparams = {k: v for k, v in vars(args).items() if k not in ("run_dir", "threads", "model", "max_minutes")}
    hparams.update({"vocab_size": len(vocab), "lexicon_features": lexicon.FEATURES,
                    "pooling": "max+mean over real tokens + mean lexicon features",
                    "optimizer": "AdamW, linear warm-up + cosine decay",
                    "best_epochs": [e["epoch"] for e in member_evals]})
    torch.save({"state_dicts": [m.state_dict() for m in members], "hparams": hparams,
                "n_classes": n_classes, "vocab_size": len(vocab), "lex_table": lex, "seen": seen},
               os.path.join(args.run_dir, "model.pt"))
    with open(os.path.join(args.run_dir, "train_result.json"), "w") as f:
        json.dump({"dev_metrics": {k: dev[k] for k in ("accuracy", "macro_f1", "macro_recall")},
                   "member_dev_metrics": [{k: e["dev"][k] for k in ("accuracy", "macro_f1", "macro_recall")}
                                          for e in member_evals],
                   "train_seconds": train_seconds, "histories": histories,
                   "hyperparameters": hparams}, f, indent=2)
    plot_curves(histories, os.path.join(args.run_dir, "curves.png"), metric_name)
    log(f"final dev ({len(members)} model{'s' if len(members) > 1 else ''}): "
        f"acc {dev['accuracy']:.4f} F1 {dev['macro_f1']:.4f} recall {dev['macro_recall']:.4f}; "
        f"training took {train_seconds:.0f}s")


if __name__ == "__main__":
    main()
