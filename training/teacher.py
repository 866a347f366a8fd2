"""Fine-tune the MiniLM teacher on CPU, resumably.

  python3 teacher.py tokenizer RUN_DIR                  # the teacher's tokenizer folder (RUN_DIR/tokenizer)
  python3 teacher.py check RUN_DIR                      # PyTorch module vs ONNX Runtime (teacher-reference.mjs)
  python3 teacher.py train RUN_DIR --model sst2-minilm  # fine-tune; resumes from RUN_DIR/ckpt.pt
  python3 teacher.py logits RUN_DIR IDS.jsonl OUT.npy   # the fine-tuned teacher's logits (transfer set)

Budget (issue 14, measured on this 2-core machine): a model of this shape trains at ~67 sequences/s
with the word embeddings frozen. So: the word embeddings (30,522 x 384, 61 % of the weights) are
frozen, batches are bucketed by length (SST-2 phrases are ~12 pieces; padding to a long neighbour
would double the cost), a checkpoint is written every few minutes and a stopped run resumes from it
(same data order: the shuffle of each epoch comes from seed + epoch), and every progress line has an
ETA. Torch runs with 1 thread by default (see train.py --threads): two single-thread runs (SST-2 and
TweetEval) side by side use the two cores without OpenMP barrier waits.
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

import data
from common import DATASETS, log
from minilm import TOKENIZER_PATH, MiniLM, load_onnx_weights
from train import metrics

# Raw text and SST's Penn-Treebank text onto one form, for the BERT tokenizer. The BiLSTM's
# tokenizer goes the other way (raw -> PTB, vocab.py) because its vocabulary is built from SST;
# this encoder was pretrained on raw text, so PTB is mapped back to raw. Only the contractions
# matter: BERT's pre-tokenizer splits at punctuation, so "it 's" and "it's" already give the same
# pieces, but "does n't" -> "does n ' t" and "doesn't" -> "doesn ' t" do not.
# Applied after BertNormalizer (lowercased text).
PTB_TO_RAW = [
    ("``", '"'), ("''", '"'),
    (r"(?<![\p{L}\p{M}\p{N}])ca n't", "can't"),
    (r"(?<![\p{L}\p{M}\p{N}])wo n't", "won't"),
    (r"(?<![\p{L}\p{M}\p{N}])ai n't", "ain't"),
    (r"([\p{L}]) n't(?![\p{L}\p{M}\p{N}])", "$1n't"),
    (r"(?<![\p{L}\p{M}\p{N}])(gon|wan) na(?![\p{L}\p{M}\p{N}])", "$1na"),
    (r"(?<![\p{L}\p{M}\p{N}])got ta(?![\p{L}\p{M}\p{N}])", "gotta"),
]


def write_tokenizer(out_dir, max_length=128):
    """The jar's tokenizer.json with the PTB->raw rules after its BertNormalizer, and without the
    fixed padding/truncation the jar sets (the service pads per batch)."""
    with open(TOKENIZER_PATH, encoding="utf-8") as f:
        tok = json.load(f)
    rules = []
    for pattern, content in PTB_TO_RAW:
        key = "String" if pattern in ("``", "''") else "Regex"
        rules.append({"type": "Replace", "pattern": {key: pattern}, "content": content})
    tok["normalizer"] = {"type": "Sequence", "normalizers": [tok["normalizer"]] + rules}
    tok["truncation"] = None
    tok["padding"] = None
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "model_max_length": max_length, "do_lower_case": True,
                   "pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
                   "mask_token": "[MASK]", "padding_side": "right", "clean_up_tokenization_spaces": True},
                  f, indent=2)


def check(run_dir, tol=1e-4):
    """Compare the PyTorch encoder with ONNX Runtime's run of the jar's graph (teacher-reference.mjs)."""
    with open(os.path.join(run_dir, "reference.json")) as f:
        r = json.load(f)
    B, T = r["ids_dims"]
    ids = torch.tensor(r["ids"]).view(B, T)
    mask = torch.tensor(r["mask"]).view(B, T)
    ref = torch.tensor(r["hidden"], dtype=torch.float32).view(*r["hidden_dims"])
    model = load_onnx_weights(MiniLM()).eval()
    with torch.no_grad():
        h = model.encode(ids, mask)
    diff = ((h - ref) * mask.unsqueeze(-1)).abs().max().item()
    log(f"teacher check: max |torch - onnxruntime| over {int(mask.sum())} real tokens of {B} texts = {diff:.2e}")
    if not diff <= tol:
        raise SystemExit(f"error: the PyTorch teacher differs from ONNX Runtime by {diff:.2e} > {tol}")
    return diff


def batches(ids, labels, max_tokens, batch_size, rng):
    """Length-bucketed batches: sort inside chunks of 50 batches, cap tokens per batch."""
    order = list(range(len(ids)))
    rng.shuffle(order)
    chunk = batch_size * 50
    out = []
    for k in range(0, len(order), chunk):
        part = sorted(order[k:k + chunk], key=lambda j: len(ids[j]))
        b = []
        for j in part:
            if b and (len(b) >= batch_size or (len(b) + 1) * len(ids[j]) > max_tokens):
                out.append(b)
                b = []
            b.append(j)
        if b:
            out.append(b)
    rng.shuffle(out)
    return out


@torch.no_grad()
def predict_logits(model, ids, batch_size=128):
    model.eval()
    order = sorted(range(len(ids)), key=lambda j: len(ids[j]))
    out = np.zeros((len(ids), model.classifier.out_features), dtype=np.float32)
    for k in range(0, len(order), batch_size):
        b = order[k:k + batch_size]
        x, m = data.pad_batch([ids[j] for j in b])
        out[b] = model(x, m).numpy()
    return out


def evaluate(model, ids, labels, n_classes):
    logits = predict_logits(model, ids)
    res = metrics(labels, logits.argmax(1), n_classes)
    res["loss"] = float(F.cross_entropy(torch.from_numpy(logits), torch.tensor(labels)).item())
    return res


def train(args):
    torch.set_num_threads(args.threads)
    spec = DATASETS[args.model]
    n_classes = len(spec["labels"])
    metric = "accuracy" if n_classes == 2 else "macro_recall"
    tr_ids, tr_y = data.load_split(args.run_dir, "train")
    dv_ids, dv_y = data.load_split(args.run_dir, "dev")
    if args.limit:
        tr_ids, tr_y = tr_ids[:args.limit], tr_y[:args.limit]
    log(f"train {len(tr_ids)} / dev {len(dv_ids)}, mean length {np.mean([len(s) for s in tr_ids]):.1f} pieces")

    random.seed(args.seed); np.random.seed(args.seed); torch.manual_seed(args.seed)
    model = load_onnx_weights(MiniLM(n_classes, args.classifier_dropout))
    model.word.weight.requires_grad_(False)           # frozen: the budget (see the module docstring)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    steps_per_epoch = len(batches(tr_ids, tr_y, args.max_tokens, args.batch_size, random.Random(0)))
    total = int(steps_per_epoch * args.epochs)
    warm = max(1, int(total * args.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    weight = None
    if args.class_weights:
        counts = np.bincount(tr_y, minlength=n_classes).astype(np.float64)
        weight = torch.tensor(counts.sum() / (n_classes * counts), dtype=torch.float32)

    ckpt_path = os.path.join(args.run_dir, "ckpt.pt")
    best_path = os.path.join(args.run_dir, "best.pt")
    state = {"step": 0, "history": [], "best": -1.0, "elapsed": 0.0}
    if os.path.isfile(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"]); sched.load_state_dict(ck["sched"])
        state = ck["state"]
        log(f"resumed at step {state['step']}/{total}")
    eval_every = max(1, steps_per_epoch // args.evals_per_epoch)

    def save():
        tmp = ckpt_path + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "state": state}, tmp)
        os.replace(tmp, ckpt_path)

    t0, step0, last_save = time.time(), state["step"], time.time()
    elapsed0 = state["elapsed"]
    run_loss, run_n = 0.0, 0
    model.train()
    while state["step"] < total:
        epoch = state["step"] // steps_per_epoch
        plan = batches(tr_ids, tr_y, args.max_tokens, args.batch_size, random.Random(args.seed * 1000 + epoch))
        for b in plan[state["step"] - epoch * steps_per_epoch:]:
            x, m = data.pad_batch([tr_ids[j] for j in b])
            y = torch.tensor([tr_y[j] for j in b])
            loss = F.cross_entropy(model(x, m), y, weight=weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step(); sched.step()
            state["step"] += 1
            run_loss += loss.item() * len(b); run_n += len(b)
            s = state["step"]
            if s % 50 == 0:
                rate = (s - step0) / (time.time() - t0)
                eta = (total - s) / max(rate, 1e-9)
                log(f"step {s}/{total} (epoch {s / steps_per_epoch:.2f}) loss {run_loss / max(run_n, 1):.4f} "
                    f"| {rate * args.batch_size:.0f} seq/s | ETA {eta / 60:.0f} min")
            if s % eval_every == 0 or s == total:
                dev = evaluate(model, dv_ids, dv_y, n_classes)
                model.train()
                state["elapsed"] = elapsed0 + time.time() - t0
                h = {"step": s, "epoch": round(s / steps_per_epoch, 3), "train_loss": run_loss / max(run_n, 1),
                     "dev": dev, "elapsed_s": round(state["elapsed"])}
                state["history"].append(h)
                improved = dev[metric] > state["best"]
                if improved:
                    state["best"] = dev[metric]
                    torch.save({"model": model.state_dict(), "n_classes": n_classes, "eval": h,
                                "args": vars(args)}, best_path)
                log(f"== dev at epoch {h['epoch']}: acc {dev['accuracy']:.4f} macro-recall "
                    f"{dev['macro_recall']:.4f} loss {dev['loss']:.4f}{' *' if improved else ''}")
                run_loss, run_n = 0.0, 0
                save(); last_save = time.time()
            elif time.time() - last_save > 60 * args.save_minutes:
                state["elapsed"] = elapsed0 + time.time() - t0
                save(); last_save = time.time()
            if s >= total:
                break
    best = torch.load(best_path)
    with open(os.path.join(args.run_dir, "teacher_result.json"), "w") as f:
        json.dump({"best": best["eval"], "history": state["history"], "args": vars(args),
                   "train_seconds": round(state["elapsed"])}, f, indent=2)
    log(f"done: best dev {metric} {state['best']:.4f} at epoch {best['eval']['epoch']}")


def logits_cmd(args):
    torch.set_num_threads(args.threads)
    best = torch.load(os.path.join(args.run_dir, "best.pt"))
    model = MiniLM(best["n_classes"])
    model.load_state_dict(best["model"])
    with open(args.ids) as f:
        ids = [json.loads(line) for line in f]
    t0 = time.time()
    out = np.zeros((len(ids), best["n_classes"]), dtype=np.float32)
    step = 20000
    for k in range(0, len(ids), step):
        out[k:k + step] = predict_logits(model, ids[k:k + step])
        rate = (k + len(ids[k:k + step])) / (time.time() - t0)
        log(f"teacher logits: {k + len(ids[k:k + step])}/{len(ids)} | {rate:.0f} texts/s | "
            f"ETA {(len(ids) - k - step) / rate / 60:.0f} min")
    np.save(args.out, out)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("tokenizer"); p.add_argument("run_dir"); p.add_argument("--max-length", type=int, default=128)
    p = sub.add_parser("check"); p.add_argument("run_dir")
    p = sub.add_parser("train")
    p.add_argument("run_dir")
    p.add_argument("--model", required=True, choices=[m for m in DATASETS if m.endswith("-minilm")])
    p.add_argument("--lr", type=float, default=8e-5)
    p.add_argument("--epochs", type=float, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=32 * 48, help="pieces per batch at most (long batches get fewer rows)")
    p.add_argument("--warmup", type=float, default=0.06)
    p.add_argument("--classifier-dropout", type=float, default=0.1)
    p.add_argument("--class-weights", action="store_true")
    p.add_argument("--evals-per-epoch", type=int, default=4)
    p.add_argument("--save-minutes", type=float, default=5)
    p.add_argument("--limit", type=int, default=0, help="train on the first N rows only (smoke tests)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=1)
    p = sub.add_parser("logits")
    p.add_argument("run_dir"); p.add_argument("ids"); p.add_argument("out")
    p.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.cmd == "tokenizer":
        write_tokenizer(os.path.join(args.run_dir, "tokenizer"), args.max_length)
    elif args.cmd == "check":
        check(args.run_dir)
    elif args.cmd == "train":
        train(args)
    else:
        logits_cmd(args)


if __name__ == "__main__":
    main()
