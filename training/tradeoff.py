"""Draw training/tradeoff.json (tradeoff.mjs) as one plot per dataset, into each shipped model
folder of that dataset as tradeoff.png, and give card.py the table.

  /usr/bin/python3 training/tradeoff.py
"""
import json
import os

from common import MODELS_DIR, TRAINING_DIR

TRADEOFF = os.path.join(TRAINING_DIR, "tradeoff.json")
NAMES = {"sst2": "SST-2 dev accuracy", "tweeteval-sentiment": "TweetEval dev macro-recall"}


def load():
    if not os.path.exists(TRADEOFF):
        return None
    with open(TRADEOFF) as f:
        return json.load(f)


def table_lines(dataset):
    t = load()
    if not t or dataset not in t["datasets"]:
        return ["Not measured yet: `node training/tradeoff.mjs && /usr/bin/python3 training/tradeoff.py`."]
    d = t["datasets"][dataset]
    lines = ["| scorer | " + NAMES[dataset] + " | texts per CPU-second (batch 64, 1 thread) | model.onnx MB |",
             "| --- | ---: | ---: | ---: |"]
    for r in d["rows"]:
        dev = "n/a" if r["dev"] is None else f"{r['dev']:.4f}"
        lines.append(f"| {r['scorer']} | {dev} | {r['texts_per_cpu_s']:,} | {r.get('onnx_mb', '-')} |")
    return lines + ["", f"Command: `{t['command']}` ({t['machine']}). Model-only speed: `session.run` on the "
                    "2,000 TweetEval dev tweets in batches of 64 padded to the longest (tokenizing not timed); "
                    "the lexicons score the same tweets one by one in JavaScript.", "", "![accuracy vs speed](tradeoff.png)"]


def plot(dataset, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    d = load()["datasets"][dataset]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, r in enumerate(d["rows"]):
        if r["dev"] is None:
            continue
        ax.scatter(r["texts_per_cpu_s"], r["dev"], s=50, color=f"C{k}", label=r["scorer"])
        ax.annotate(r["scorer"], (r["texts_per_cpu_s"], r["dev"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("texts per CPU-second (log scale; batch 64, 1 thread)")
    ax.set_ylabel(NAMES[dataset])
    ax.set_title(f"Accuracy against speed, {dataset}")
    ax.grid(alpha=.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    t = load()
    if t is None:
        raise SystemExit("error: training/tradeoff.json missing; run: node training/tradeoff.mjs")
    for name in sorted(os.listdir(MODELS_DIR)):
        cfg = os.path.join(MODELS_DIR, name, "config.json")
        if not os.path.isfile(cfg):
            continue
        with open(cfg) as f:
            dataset = json.load(f)["dataset"]
        if dataset in t["datasets"]:
            plot(dataset, os.path.join(MODELS_DIR, name, "tradeoff.png"))
            print(f"wrote models/{name}/tradeoff.png")


if __name__ == "__main__":
    main()
