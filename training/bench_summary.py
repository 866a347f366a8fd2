"""Write training/benchmarks.json (GRU vs LSTM section of the SST-2 card) from
the GRU run, the LSTM ensemble run and training/throughput.mjs output.

  node training/throughput.mjs models/sst2-bilstm training/.work/sst2-bilstm-gru/model \
      > training/.work/throughput.json
  python3 training/bench_summary.py training/.work/throughput.json
"""
import json
import os
import sys

from common import TRAINING_DIR, WORK_DIR  # noqa: E402

THROUGHPUT_CMD = ("node training/throughput.mjs --threads 1 models/sst2-bilstm "
                  "training/.work/sst2-bilstm-single/model training/.work/sst2-bilstm-gru/model")


def main():
    with open(sys.argv[1]) as f:
        rows = json.load(f)
    with open(os.path.join(WORK_DIR, "sst2-bilstm-single", "train_result.json")) as f:
        lstm = json.load(f)
    with open(os.path.join(TRAINING_DIR, "..", "models", "sst2-bilstm", "config.json")) as f:
        shipped = json.load(f)
    with open(os.path.join(WORK_DIR, "sst2-bilstm-gru", "train_result.json")) as f:
        gru = json.load(f)
    sizes = {}
    for r in rows:
        sizes[r["model_dir"]] = r["onnx_mb"]

    def tput(dir_suffix, batch, padding):
        for r in rows:
            if r["model_dir"].endswith(dir_suffix) and r["batch"] == batch and r["padding"] == padding:
                return r["texts_per_cpu_s"]
        return None

    lstm1 = lstm["dev_metrics"]
    g = gru["dev_metrics"]
    ens = shipped["dev_metrics"]
    n_ens = shipped["hyperparameters"].get("ensemble", 1)
    lines = [
        "Same pipeline, tokenizer, seed (13) and hyperparameters; only `--cell` differs "
        "(`bash training/train.sh sst2-bilstm --cell gru --ensemble 1`). Throughput is model-only "
        "(`session.run` with onnxruntime-node, all 2,000 TweetEval dev tweets, mean "
        f"{rows[0]['mean_tokens']} tokens, {rows[0]['threads']} intra-op thread), in texts per CPU-second: the VM's "
        "2 cores are shared with other jobs, so wall-clock figures (also in `benchmarks.json`) are noisy; compare ratios.",
        "",
        "| model | dev accuracy | macro-F1 | model.onnx (MB) | texts/CPU-s b=64 | b=128 | b=256 | b=128, padded to max_length (128) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, m, suffix in [("BiLSTM, 1 model (seed 13)", lstm1, "sst2-bilstm-single/model"),
                            ("BiGRU, 1 model (seed 13)", g, "sst2-bilstm-gru/model"),
                            (f"BiLSTM, {n_ens}-model ensemble (shipped)", ens, "models/sst2-bilstm")]:
        lines.append(f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {sizes.get(next((k for k in sizes if k.endswith(suffix)), ''), '?')} | "
                     f"{tput(suffix, 64, 'longest')} | {tput(suffix, 128, 'longest')} | {tput(suffix, 256, 'longest')} | "
                     f"{tput(suffix, 128, 'max_length')} |")
    gap = lstm1["accuracy"] - g["accuracy"]
    lines += [
        "",
        f"Command: `{THROUGHPUT_CMD}`",
        "",
        f"**Is a GRU as good and lighter? Not here.** The BiGRU scored {100 * gap:.1f} points lower dev accuracy "
        "(one seed each; the four LSTM seeds we trained spread over 0.837-0.846, so the gap is larger than the "
        "seed noise, but it is a single comparison). It is barely lighter: 3 % smaller file (the embedding "
        "dominates the size) and, in onnxruntime-node's CPU kernels, the same throughput within measurement "
        "noise. The LSTM stays. Throughput per text drops with larger batches because the longest text in a "
        "batch grows, and padding every batch to max_length (what the xenova call with `max_length` does) "
        "costs about 25 %. The 3-model ensemble costs 3x the compute of one model for about +0.4 points of "
        "dev accuracy; a single model (`--ensemble 1`, 4.8 MB, about 3x the throughput) is the option if speed matters more.",
        "",
    ]
    out = {"sst2-bilstm": {"card_lines": lines, "raw": rows,
                           "lstm_single_dev": lstm1, "gru_single_dev": g,
                           "gru_train_seconds": gru["train_seconds"]}}
    path = os.path.join(TRAINING_DIR, "benchmarks.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
