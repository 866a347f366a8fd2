#!/usr/bin/python3
"""PNG plots of a benchmark result (Debian's python3-matplotlib; no npm package needed).

    /usr/bin/python3 test/bench/plot.py [test/bench/results/latest.json] [OUT_DIR]

Writes OUT_DIR/throughput-vs-batch.png, OUT_DIR/latency.png and OUT_DIR/systems.png.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results", "latest.json")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(src))
with open(src) as f:
    r = json.load(f)
systems = r.get("systems", {})
title_tail = f"{r['machine']['nproc']} CPUs, N={r['config']['n']:,}{' (QUICK)' if r['config'].get('quick') else ''}, {r['date'][:10]}"

# Throughput vs BATCH_MAX_SIZE, one line per ORT intra-op thread count.
sweep = r.get("sweep", [])
if sweep:
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for t in sorted({p["intra_op_threads"] for p in sweep}):
        pts = sorted((p["batch_max_size"], p["msgs_per_s"]) for p in sweep if p["intra_op_threads"] == t)
        ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=f"scorer, INTRA_OP_THREADS={t}")
    styles = {"model-only": ("tab:green", "--"), "passthrough": ("tab:gray", ":"), "scorer": ("tab:red", "-.")}
    for name, (color, ls) in styles.items():
        if name in systems:
            label = f"{name} ({'batch 256, ' if name != 'passthrough' else ''}{systems[name]['msgs_per_s']:,.0f}/s)"
            ax.axhline(systems[name]["msgs_per_s"], color=color, ls=ls, lw=1, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("BATCH_MAX_SIZE")
    ax.set_ylabel("messages / s (first to last output)")
    ax.set_title(f"Scorer throughput vs batch size ({title_tail})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "throughput-vs-batch.png"), dpi=120)
    plt.close(fig)

# Latency distribution (CDF from 101 quantiles) per offered rate.
lat = r.get("latency", [])
if lat:
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for l in lat:
        q = l["quantiles_ms"]
        ax.plot(q, [k / 100 for k in range(len(q))], label=f"{round(100 * l['rate_fraction'])}% of max ({l['offered_msgs_per_s']:,}/s): p50 {l['p50_ms']}, p99 {l['p99_ms']} ms")
    ax.axvline(100, color="tab:red", ls=":", lw=1, label="target: p99 <= 100 ms at 50%")
    ax.axhline(0.99, color="gray", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end latency, ms (input timestamp -> arrival at downstream consumer)")
    ax.set_ylabel("fraction of messages")
    ax.set_title(f"Scorer latency per offered rate ({title_tail})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latency.png"), dpi=120)
    plt.close(fig)

# Throughput of every system.
order = [k for k in ["scorer", "model-only", "passthrough", "naive", "afinn", "vader"] if k in systems]
if order:
    fig, ax = plt.subplots(figsize=(7.5, 4))
    vals = [systems[k]["msgs_per_s"] for k in order]
    bars = ax.bar(order, vals, color=["tab:red", "tab:green", "tab:gray", "tab:orange", "tab:blue", "tab:purple"][: len(order)])
    for b, v in zip(bars, vals):
        ax.text(b.get_x() + b.get_width() / 2, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("messages / s")
    ax.set_title(f"Drain throughput by system ({title_tail})", fontsize=10)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "systems.png"), dpi=120)
    plt.close(fig)

print(f"plots written to {out}", file=sys.stderr)
