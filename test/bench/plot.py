#!/usr/bin/python3
"""PNG plots of a benchmark result (Debian's python3-matplotlib: `make bench-deps` installs it).

    /usr/bin/python3 test/bench/plot.py [test/bench/results/latest.json] [OUT_DIR]

Writes, for the parts the run measured: OUT_DIR/throughput-vs-batch.png, latency.png,
latency-spread.png, systems.png, pareto.png (dev accuracy against texts/s) and compression.png.
"""
import json
import os
import sys

try:
    import matplotlib
except ImportError:
    sys.stderr.write(
        f"plot.py: {sys.executable} has no matplotlib; `make bench-deps` installs Debian's python3-matplotlib "
        "(or set PYTHON to a Python that has it)\n"
    )
    sys.exit(3)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results", "latest.json")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(src))
with open(src) as f:
    r = json.load(f)
systems = r.get("systems", {})
title_tail = f"{r['machine']['nproc']} CPUs, N={r['config']['n']:,}{' (QUICK)' if r['config'].get('quick') else ''}, {r['date'][:10]}"
defaults = r.get("defaults") or {}
default_client = defaults.get("kafka_client")


def save(fig, name):
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=120)
    plt.close(fig)


# Throughput vs BATCH_MAX_SIZE, one line per ORT sessions x intra-op threads (runs before
# INFERENCE_SESSIONS existed ran one session).
sweep = r.get("sweep", [])
if sweep:
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    engine = lambda p: (p.get("inference_sessions", 1), p["intra_op_threads"])
    for s, t in sorted({engine(p) for p in sweep}):
        pts = sorted((p["batch_max_size"], p["msgs_per_s"]) for p in sweep if engine(p) == (s, t))
        ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=f"scorer, INFERENCE_SESSIONS={s} x INTRA_OP_THREADS={t}")
    styles = {"model-only": ("tab:green", "--"), "passthrough": ("tab:gray", ":"), "scorer": ("tab:red", "-.")}
    for name, (color, ls) in styles.items():
        if name in systems:
            ax.axhline(systems[name]["msgs_per_s"], color=color, ls=ls, lw=1, label=f"{name} ({systems[name]['msgs_per_s']:,.0f}/s)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("BATCH_MAX_SIZE")
    ax.set_ylabel("messages / s (first to last output)")
    ax.set_title(f"Scorer throughput vs batch size ({title_tail})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "throughput-vs-batch.png")

# Latency distribution (CDF from 101 quantiles): the default client's first run per rate.
lat = r.get("latency", [])
if lat:
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    firsts = [l for l in lat if l.get("repeat", 0) == 0 and l.get("client", default_client) == default_client] or lat
    for l in firsts:
        q = l["quantiles_ms"]
        ax.plot(q, [k / 100 for k in range(len(q))], label=f"{round(100 * l['rate_fraction'])}% of max ({l['offered_msgs_per_s']:,}/s): p50 {l['p50_ms']}, p99 {l['p99_ms']} ms")
    ax.axvline(40, color="tab:red", ls=":", lw=1, label="floor: p99 <= 40 ms at 50%")
    ax.axvline(80, color="tab:purple", ls=":", lw=1, label="floor: p99 <= 80 ms at 75%")
    ax.axhline(0.99, color="gray", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end latency, ms (input timestamp -> arrival at downstream consumer)")
    ax.set_ylabel("fraction of messages")
    ax.set_title(f"Scorer latency per offered rate, KAFKA_CLIENT={default_client} ({title_tail})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    save(fig, "latency.png")

    # p99 of every run, per client and rate: the spread from run to run.
    clients = sorted({l.get("client", "?") for l in lat}, key=lambda c: c != default_client)
    rates = sorted({l["rate_fraction"] for l in lat})
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    width = 0.8 / max(1, len(clients))
    for ci, c in enumerate(clients):
        for ri, f in enumerate(rates):
            ys = [l["p99_ms"] for l in lat if l.get("client", "?") == c and l["rate_fraction"] == f]
            xs = [ri + (ci - (len(clients) - 1) / 2) * width] * len(ys)
            ax.scatter(xs, ys, color=f"C{ci}", label=c if ri == 0 else None, zorder=3)
            if ys:
                ax.hlines(sorted(ys)[len(ys) // 2], xs[0] - width / 3, xs[0] + width / 3, color=f"C{ci}", lw=2)
    for ri, f in enumerate(rates):
        floor = {0.5: 40, 0.75: 80}.get(f)
        if floor:
            ax.hlines(floor, ri - 0.45, ri + 0.45, color="tab:red", ls=":", lw=1)
    ax.set_xticks(range(len(rates)), [f"{round(100 * f)}% of max" for f in rates])
    ax.set_yscale("log")
    ax.set_ylabel("p99 end-to-end latency, ms (one dot per run, bar = median)")
    ax.set_title(f"p99 from run to run, per Kafka client (red: the floors) ({title_tail})", fontsize=10)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "latency-spread.png")

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
    save(fig, "systems.png")

# Accuracy (dev, the model cards) against texts/s through the scorer: the Pareto front.
models = r.get("models") or []
points = []  # (texts/s, accuracy, label, marker)
for m in models:
    rate = m["scorer"].get("scored_per_s") if m["system"] == "scorer" and m["scorer"].get("scored_per_s") else m["scorer"].get("msgs_per_s")
    if m.get("dev_accuracy") is not None and rate:
        points.append((rate, m["dev_accuracy"], m["label"] if m["system"] == "scorer" else f"{m['name']}, one message at a time", "o" if m["system"] == "scorer" else "s"))
base = r.get("baselines_dev") or {}
for k in ["afinn", "vader"]:
    if k in systems and k in base:
        points.append((systems[k]["msgs_per_s"], base[k], k.upper() + " (lexicon)", "^"))
if points:
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for i, (x, y, label, marker) in enumerate(points):
        ax.scatter([x], [100 * y], marker=marker, s=50, color=f"C{i}", label=f"{label}: {100 * y:.1f} %, {x:,.0f}/s", zorder=3)
    # Front: no other point is both faster and more accurate.
    front = sorted([p for p in points if not any(q[0] >= p[0] and q[1] >= p[1] and (q[0], q[1]) != (p[0], p[1]) for q in points)], key=lambda p: p[0])
    xs, ys = [], []
    for p in front:
        if xs:
            xs.append(p[0])
            ys.append(ys[-1])
        xs.append(p[0])
        ys.append(100 * p[1])
    ax.plot(xs, ys, color="gray", ls="--", lw=1, label="Pareto front", zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel("texts / s through the scorer on this machine (log)")
    ax.set_ylabel(f"dev accuracy, % ({r['model']['name'].split('-')[0].upper()} dev, model cards)")
    ax.set_title(f"Accuracy against speed ({title_tail})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    save(fig, "pareto.png")

# Output compression: CPU per event against bytes per event on the broker.
comp = r.get("compression") or []
if comp:
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    clients = sorted({c["client"] for c in comp}, key=lambda c: c != default_client)
    for ci, cl in enumerate(clients):
        rows = [c for c in comp if c["client"] == cl and c.get("cpu_s_per_1k") is not None and c.get("broker_cpu_s_per_1k") is not None and c.get("broker_bytes_per_msg") is not None]
        ax.scatter([c["broker_bytes_per_msg"] for c in rows], [1000 * (c["cpu_s_per_1k"] + c["broker_cpu_s_per_1k"]) for c in rows], color=f"C{ci}", label=f"KAFKA_CLIENT={cl}", zorder=3)
        for c in rows:
            ax.annotate(c["codec"], (c["broker_bytes_per_msg"], 1000 * (c["cpu_s_per_1k"] + c["broker_cpu_s_per_1k"])), fontsize=8, xytext=(4, 2), textcoords="offset points")
    ax.set_xlabel("bytes per event on the broker")
    ax.set_ylabel("CPU ms per 1,000 events (scorer + broker)")
    ax.set_title(f"PRODUCER_COMPRESSION: CPU against bytes ({title_tail})", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "compression.png")

print(f"plots written to {out}", file=sys.stderr)
