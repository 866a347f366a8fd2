"""Export a trained run to ONNX and write the servable model folder.

  python3 export.py RUN_DIR OUT_DIR --model sst2-bilstm

Writes OUT_DIR/{model.onnx, tokenizer.json, tokenizer_config.json, config.json,
parity.jsonl, curves.png, README.md}. Checks: onnx.checker, the recurrent layer
is ONNX's LSTM/GRU operator (not an unrolled loop), and PyTorch logits do not
depend on the amount of padding in a batch.
"""
import argparse
import hashlib
import json
import os
import shutil
import warnings

import numpy as np
import onnx
import torch

import card
import data
from common import DATASETS, log
from model import CompactEmbedding, Ensemble, SentimentRNN
from train import evaluate, plot_curves
from windows import windowed_logits

FORBIDDEN_OPS = {"Loop", "Scan", "If"}     # would mean an unrolled/dynamic RNN


def round_to_fp16_(module, min_numel=4096):
    """Round the large float weights (the RNN matrices) to float16 precision in
    place. The ONNX file then stores them as float16 without any loss (see
    shrink_onnx), and PyTorch computes with exactly the same values."""
    with torch.no_grad():
        for p in module.parameters():
            if p.dtype == torch.float32 and p.numel() >= min_numel:
                p.copy_(p.half().float())


def load_model(run_dir, extra_runs=()):
    """Rebuild the trained model (one member or an ensemble) in its export form:
    each member's embedding becomes a CompactEmbedding (seen rows only, fp16).
    All reported metrics and parity logits come from this exact model."""
    ckpt = torch.load(os.path.join(run_dir, "model.pt"))
    hp = ckpt["hparams"]
    states = list(ckpt.get("state_dicts") or [ckpt["state_dict"]])
    for extra in extra_runs:
        # more ensemble members trained separately on the same tokenized data
        other = torch.load(os.path.join(extra, "model.pt"))
        assert other["vocab_size"] == ckpt["vocab_size"] and torch.equal(
            torch.as_tensor(other["lex_table"]), torch.as_tensor(ckpt["lex_table"])), f"{extra}: different vocabulary"
        states += list(other.get("state_dicts") or [other["state_dict"]])
    members = []
    for state in states:
        m = SentimentRNN(ckpt["vocab_size"], ckpt["n_classes"], ckpt["lex_table"],
                         emb_dim=hp["emb_dim"], hidden=hp["hidden"], layers=hp["layers"],
                         cell=hp["cell"], dropout=hp["dropout"], emb_dropout=hp["emb_dropout"],
                         word_dropout=hp["word_dropout"])
        m.load_state_dict(state)
        w = m.embedding.weight.detach()
        # rows of tokens never seen in training stayed exactly zero
        m.embedding = CompactEmbedding(w, (w != 0).any(dim=1))
        round_to_fp16_(m)
        members.append(m.eval())
    model = Ensemble(members) if len(members) > 1 else members[0]
    model.cell = members[0].cell
    return model.eval(), hp


def export_onnx(model, path):
    # Two rows of different length so the traced graph is the general one.
    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    mask = (ids > 0).long()
    with warnings.catch_warnings():
        # the exporter warns about prim::PackPadded shape inference and a
        # fixed-batch h0; both are handled (h0 is built from the input shape)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (ids, mask), path, opset_version=14,
            input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                          "attention_mask": {0: "batch", 1: "sequence"},
                          "logits": {0: "batch"}})
    shrink_onnx(path)
    g = onnx.load(path)
    onnx.checker.check_model(g)
    ops = sorted({n.op_type for n in g.graph.node})
    rnn_op = "LSTM" if model.cell == "lstm" else "GRU"
    if rnn_op not in ops or FORBIDDEN_OPS & set(ops):
        raise SystemExit(f"error: unexpected ONNX graph ops {ops} (need {rnn_op}, no {FORBIDDEN_OPS})")
    log(f"onnx ok: opset {g.opset_import[0].version}, ops {ops}")
    return ops


def shrink_onnx(path, min_numel=4096):
    """Lossless size reduction of the exported graph:
    - identical initializers (each ensemble member's copy of the lexicon table
      and id->row table) are stored once;
    - float32 initializers whose values are exactly float16 (the weights that
      round_to_fp16_ rounded) are stored as float16 followed by a Cast."""
    from onnx import TensorProto, helper, numpy_helper
    g = onnx.load(path)
    graph = g.graph
    seen, rename, keep = {}, {}, []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        key = (arr.dtype.str, arr.shape, hashlib.sha256(arr.tobytes()).hexdigest())
        if key in seen:
            rename[init.name] = seen[key]
        else:
            seen[key] = init.name
            keep.append(init)
    new_inits, casts = [], []
    for init in keep:
        arr = numpy_helper.to_array(init)
        if (arr.dtype == np.float32 and arr.size >= min_numel
                and np.array_equal(arr.astype(np.float16).astype(np.float32), arr)):
            half_name = init.name + "_fp16"
            new_inits.append(numpy_helper.from_array(arr.astype(np.float16), half_name))
            casts.append(helper.make_node("Cast", [half_name], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "_cast"))
        else:
            new_inits.append(init)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)        # casts first: the graph stays topologically sorted
    onnx.save(g, path)
    log(f"onnx shrink: {len(rename)} duplicate initializers removed, {len(casts)} stored as float16")


@torch.no_grad()
def check_padding_invariance(model, seqs):
    """Logits of each text alone vs. inside one batch padded to the longest."""
    single = torch.cat([model(*data.pad_batch([s])) for s in seqs])
    ids, mask = data.pad_batch(seqs)
    extra = torch.zeros(ids.size(0), 17, dtype=torch.long)       # even more padding
    batched = model(torch.cat([ids, extra], 1), torch.cat([mask, extra], 1))
    diff = (single - batched).abs().max().item()
    log(f"padding invariance (PyTorch): max |single - padded batch| = {diff:.2e}")
    if diff > 1e-5:
        raise SystemExit("error: logits depend on padding")
    return single, diff


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--model", required=True, choices=list(DATASETS))
    ap.add_argument("--max-length", type=int, required=True)
    ap.add_argument("--window-stride", type=int, default=None,
                    help="read texts longer than max-length in windows this many tokens apart (config.json window_stride)")
    ap.add_argument("--add-run", action="append", default=[],
                    help="run dir with more ensemble members (same tokenizer) to include")
    args = ap.parse_args()
    torch.set_num_threads(2)

    spec = DATASETS[args.model]
    model, hp = load_model(args.run_dir, args.add_run)
    with open(os.path.join(args.run_dir, "train_result.json")) as f:
        result = json.load(f)
    for extra in args.add_run:
        with open(os.path.join(extra, "train_result.json")) as f:
            other = json.load(f)
        result["member_dev_metrics"] = result.get("member_dev_metrics", []) + other["member_dev_metrics"]
        result["train_seconds"] += other["train_seconds"]
        hp = dict(hp, ensemble=len(result["member_dev_metrics"]),
                  best_epochs=hp.get("best_epochs", []) + other["hyperparameters"].get("best_epochs", []))

    # Stage in a temp folder, then swap, so a failed export never leaves a
    # half-written model folder behind.
    stage = args.out_dir.rstrip("/") + ".tmp"
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    onnx_path = os.path.join(stage, "model.onnx")
    ops = export_onnx(model, onnx_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "emoji.json"):
        src = os.path.join(args.run_dir, "tokenizer", name)
        if os.path.isfile(src) or name != "emoji.json":
            shutil.copy(src, os.path.join(stage, name))
    if args.add_run:
        # one figure with every member's curves
        histories = result.get("histories") or [result.get("history", [])]
        for extra in args.add_run:
            with open(os.path.join(extra, "train_result.json")) as f:
                histories += json.load(f)["histories"]
        plot_curves(histories, os.path.join(stage, "curves.png"),
                    "accuracy" if len(spec["labels"]) == 2 else "macro_recall")
    else:
        shutil.copy(os.path.join(args.run_dir, "curves.png"), os.path.join(stage, "curves.png"))

    # Parity texts: ids from the Node tokenizer, logits from PyTorch.
    with open(os.path.join(os.path.dirname(__file__), "parity_texts.json"), encoding="utf-8") as f:
        texts = json.load(f)
    with open(os.path.join(args.run_dir, "parity.ids.jsonl")) as f:
        seqs = [json.loads(line) for line in f]
    assert len(seqs) == len(texts)
    logits, pad_diff = check_padding_invariance(model, seqs)
    full = None
    if args.window_stride:
        # the service reads long parity texts in windows: their logits are the windows' mean
        with open(os.path.join(args.run_dir, "parity.full.ids.jsonl")) as f:
            full = [json.loads(line) for line in f]
        logits = windowed_logits(model, full, args.max_length, args.window_stride, pad=data.pad_batch)
    with open(os.path.join(stage, "parity.jsonl"), "w", encoding="utf-8") as f:
        for k, (t, s, l) in enumerate(zip(texts, seqs, logits.tolist())):
            row = {"text": t, "input_ids": s, "logits": l}
            if full is not None and len(full[k]) > args.max_length:
                del row["input_ids"]       # libs/model's encode() cuts; the windows are checked by the logits
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    # Dev metrics of the exported model (fp16 embedding rows, averaged ensemble).
    dv_ids, dv_y = data.load_split(args.run_dir, "dev")
    dev = evaluate(model, dv_ids, dv_y, len(spec["labels"]))
    dev_metrics = {k: dev[k] for k in ("accuracy", "macro_f1", "macro_recall")}
    log(f"dev metrics of the exported model: {json.dumps(dev_metrics)}")

    # Which teacher labelled the transfer set (train.sh writes teacher.json when it distils): a teacher
    # retrained later keeps serving on its own, and the cards say which version taught this model.
    teacher_file = os.path.join(args.run_dir, "teacher.json")
    teacher = None
    if hp.get("soft") and os.path.exists(teacher_file):
        with open(teacher_file) as f:
            teacher = json.load(f)
    config = {
        "name": args.model,
        "version": spec["version"],
        "labels": spec["labels"],
        "max_length": args.max_length,
        **({"window_stride": args.window_stride} if args.window_stride else {}),
        "dataset": spec["dataset"],
        "hyperparameters": hp,
        **({"teacher": teacher} if teacher else {}),
        "dev_metrics": dev_metrics,
        "sha256": sha256(onnx_path),
    }
    with open(os.path.join(stage, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    extra = {"onnx_ops": ops, "members": len(getattr(model, "members", [model])),
             "member_dev_metrics": result.get("member_dev_metrics"), "train_seconds": result["train_seconds"],
             "pytorch_padding_diff": pad_diff,
             "onnx_bytes": os.path.getsize(onnx_path)}
    with open(os.path.join(args.run_dir, "export_info.json"), "w") as f:
        json.dump(extra, f, indent=2)
    card.write_card(stage, config, extra)

    if os.path.isdir(args.out_dir):
        shutil.rmtree(args.out_dir)
    os.rename(stage, args.out_dir)
    log(f"wrote {args.out_dir} (model.onnx {extra['onnx_bytes'] / 1e6:.1f} MB, "
        f"dev {json.dumps(dev_metrics)})")


if __name__ == "__main__":
    main()
