#!/usr/bin/env bash
# Build the vocabulary, tokenize with the serving tokenizer (Node), train,
# export to ONNX and write models/MODEL.
#   bash training/train.sh MODEL [--cell gru] [extra train.py args]
#   (env: DATA_DIR = dataset folder, OUT_DIR = write the model folder elsewhere)
#   MODEL = sst2-bilstm | tweeteval-bilstm
# A GRU run (--cell gru) is written to training/.work/MODEL-gru/model, not to models/.
set -euo pipefail
MODEL="${1:-}"
shift || true
case "$MODEL" in
  sst2-bilstm)      MAX_LEN=128; DEFAULTS=(--epochs 5 --ema 0.999 --evals-per-epoch 4 --patience 6) ;;
  tweeteval-bilstm) MAX_LEN=128; DEFAULTS=(--epochs 4 --evals-per-epoch 2 --patience 4 --class-weights) ;;
  *) echo "usage: bash training/train.sh sst2-bilstm|tweeteval-bilstm [--cell gru] [train.py args]" >&2; exit 2 ;;
esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
PY=/usr/bin/python3          # Debian python with python3-torch (not the pyenv one)
export DATA_DIR="${DATA_DIR:-$REPO/../shared/datasets}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"   # see train.py --threads

[ -x "$PY" ] || { echo "error: $PY not found; run: bash training/install-deps.sh" >&2; exit 2; }
"$PY" -c "import torch, onnx, numpy, matplotlib" 2>/dev/null \
  || { echo "error: python3-torch/onnx/numpy/matplotlib missing; run: bash training/install-deps.sh" >&2; exit 2; }
[ -d "$DATA_DIR" ] || { echo "error: data directory not found: $DATA_DIR (set DATA_DIR)" >&2; exit 2; }

CELL=lstm
for a in "$@"; do if [ "$a" = gru ]; then CELL=gru; fi; done
RUN="$MODEL"; OUT="$REPO/models/$MODEL"
if [ "$CELL" = gru ]; then RUN="$MODEL-gru"; OUT="$HERE/.work/$RUN/model"; fi
OUT="${OUT_DIR:-$OUT}"       # e.g. OUT_DIR=/tmp/x to test without replacing models/
WORK="$HERE/.work/$RUN"
mkdir -p "$WORK"
cd "$HERE"
start=$(date +%s)

echo "== [1/7] data ($DATA_DIR)" >&2
"$PY" -c "import sys, data; data.prepare(sys.argv[1], sys.argv[2])" "$MODEL" "$WORK"

echo "== [2/7] vocabulary (pre-tokenized by xenova in Node)" >&2
"$PY" vocab.py bootstrap "$WORK/boot" --max-length "$MAX_LEN"
"$PY" vocab.py lexicon-words "$WORK"
node pretokenize.mjs "$WORK/boot" "$WORK/train.txt" "$WORK/train.words"
node pretokenize.mjs "$WORK/boot" "$WORK/lexicon_entries.txt" "$WORK/lexicon.words"
"$PY" vocab.py build "$WORK/tokenizer" "$WORK/train.words" --lexicon-tokens "$WORK/lexicon.words" \
  --max-length "$MAX_LEN"

echo "== [3/7] tokenize with the serving tokenizer (Node)" >&2
"$PY" -c "import json,sys; [print(t) for t in json.load(open('parity_texts.json'))]" > "$WORK/parity.txt"
for split in train dev parity; do
  node tokenize-corpus.mjs "$WORK" tokenizer "$MAX_LEN" "$WORK/$split.txt" "$WORK/$split.ids.jsonl"
done

echo "== [4/7] train" >&2
"$PY" train.py "$WORK" --model "$MODEL" "${DEFAULTS[@]}" "$@"

echo "== [5/7] export ONNX + model folder" >&2
"$PY" export.py "$WORK" "$OUT" --model "$MODEL" --max-length "$MAX_LEN"

echo "== [6/7] verify with onnxruntime-node" >&2
node verify-onnx.mjs "$OUT"

echo "== [7/7] AFINN / VADER baselines on the same dev set, into the model card" >&2
if [ "$OUT" = "$REPO/models/$MODEL" ]; then   # baselines.json holds the shipped models' figures only
  node baselines.mjs "$OUT"
  "$PY" card.py "$OUT" "$WORK"
fi
echo "done: $OUT in $(( ($(date +%s) - start) / 60 )) min" >&2
