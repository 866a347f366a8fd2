#!/usr/bin/env bash
# The MiniLM teacher for one dataset: fetch it (Maven Central), check the PyTorch module against
# ONNX Runtime, fine-tune it on CPU (resumes from training/.work/MODEL/ckpt.pt), export it to int8,
# check parity through the serving path, and measure it through the CLI into its model card.
#   bash training/train-teacher.sh sst2-minilm|tweeteval-minilm [teacher.py train args]
#   (env: DATA_DIR, OUT_DIR = write the model folder elsewhere)
# Fine-tuning takes ~15 min (SST-2) / ~35 min (TweetEval) per core here (2026-12-03; up to 3x that
# when the cores are shared): progress lines carry an ETA, and a stopped run picks up where it stopped.
set -euo pipefail
MODEL="${1:-}"
shift || true
case "$MODEL" in
  sst2-minilm)      RECIPE=(--lr 1e-4 --epochs 1 --seed 21) ;;
  tweeteval-minilm) RECIPE=(--lr 5e-5 --epochs 1 --class-weights --seed 21) ;;
  *) echo "usage: bash training/train-teacher.sh sst2-minilm|tweeteval-minilm [teacher.py train args]" >&2; exit 2 ;;
esac
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
PY=/usr/bin/python3
export DATA_DIR="${DATA_DIR:-$REPO/../shared/datasets}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
[ -d "$DATA_DIR" ] || { echo "error: data directory not found: $DATA_DIR (set DATA_DIR)" >&2; exit 2; }
"$PY" -c "import torch, onnx, numpy" 2>/dev/null || { echo "error: run: bash training/install-deps.sh" >&2; exit 2; }
WORK="$HERE/.work/$MODEL"
OUT="${OUT_DIR:-$REPO/models/$MODEL}"
mkdir -p "$WORK"
cd "$HERE"
start=$(date +%s)

echo "== [1/6] teacher from Maven Central, tokenizer (+ CLDR emoji names), data" >&2
bash fetch-teacher.sh
"$PY" teacher.py tokenizer "$WORK"
node emoji.mjs "$WORK/tokenizer/emoji.json"
"$PY" -c "import sys, data; data.prepare(sys.argv[1], sys.argv[2])" "$MODEL" "$WORK"
"$PY" -c "import json,sys; [print(t) for t in json.load(open('parity_texts.json'))]" > "$WORK/parity.txt"
for split in train dev; do
  node tokenize-corpus.mjs "$WORK" tokenizer 128 "$WORK/$split.txt" "$WORK/$split.ids.jsonl"
done
node tokenize-corpus.mjs "$WORK" tokenizer 128 "$WORK/parity.txt" "$WORK/parity.full.ids.jsonl" --full

echo "== [2/6] PyTorch module vs ONNX Runtime on the jar's graph" >&2
node teacher-reference.mjs "$WORK"
"$PY" teacher.py check "$WORK"

echo "== [3/6] fine-tune (resumes; log: $WORK/train.log)" >&2
"$PY" teacher.py train "$WORK" --model "$MODEL" "${RECIPE[@]}" "$@" 2>&1 | tee -a "$WORK/train.log" >&2

echo "== [4/6] export: fp32 ONNX -> int8 (static scales) -> $OUT" >&2
"$PY" teacher_export.py "$WORK" "$OUT" --model "$MODEL"

echo "== [5/6] parity through the serving path (fp32 vs PyTorch 1e-4; int8 logits -> parity.jsonl)" >&2
node teacher-parity.mjs "$WORK" "$OUT" | tee "$WORK/parity_result.json"

echo "== [6/6] dev metrics, behaviour rates, baselines -> config.json + model card" >&2
node measure.mjs "$OUT"
node baselines.mjs "$OUT"
"$PY" card.py "$OUT" "$WORK"
echo "done: $OUT in $(( ($(date +%s) - start) / 60 )) min" >&2
