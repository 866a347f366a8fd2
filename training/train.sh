#!/usr/bin/env bash
# Build one shipped model.
#   bash training/train.sh MODEL [train.py args]        MODEL = sst2-bilstm | tweeteval-bilstm | sst2-minilm | tweeteval-minilm
#   (env: DATA_DIR = dataset folder, OUT_DIR = write the model folder elsewhere, RUN_NAME = scratch
#    folder under training/.work/ (default MODEL: a second run beside the shipped one),
#    RECIPE=plain = the from-scratch BiLSTM of v1.1.0 instead of distillation; --cell gru: GRU comparison)
# *-minilm: the fine-tuned teacher (train-teacher.sh). *-bilstm: the BiLSTM distilled from that
# teacher over an augmented transfer set (trains the teacher first if training/.work/<teacher>/best.pt
# and models/<teacher> are missing; the teacher run resumes where it stopped).
# A GRU run (--cell gru) is written to training/.work/MODEL-gru/model, not to models/.
set -euo pipefail
MODEL="${1:-}"
shift || true
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
case "$MODEL" in
  sst2-minilm|tweeteval-minilm) exec bash "$HERE/train-teacher.sh" "$MODEL" "$@" ;;
  sst2-bilstm)      MAX_LEN=128; TEACHER=sst2-minilm; PER_TEXT=12.0
                    PLAIN=(--epochs 5 --ema 0.999 --evals-per-epoch 4 --patience 6)
                    DISTIL=(--epochs 2 --ema 0.999 --evals-per-epoch 4 --patience 6 --alpha 0.5 --init-emb teacher --max-minutes 40) ;;
  tweeteval-bilstm) MAX_LEN=128; TEACHER=tweeteval-minilm; PER_TEXT=1.5
                    PLAIN=(--epochs 4 --evals-per-epoch 2 --patience 4 --class-weights)
                    DISTIL=(--epochs 3 --hidden 160 --ema 0.999 --evals-per-epoch 4 --patience 6 --alpha 0.5 --class-weights --init-emb teacher --max-minutes 60) ;;
  *) echo "usage: bash training/train.sh sst2-bilstm|tweeteval-bilstm|sst2-minilm|tweeteval-minilm [train.py args]" >&2; exit 2 ;;
esac
WINDOW_STRIDE=96        # texts longer than MAX_LEN tokens are read in windows 96 tokens apart

PY=/usr/bin/python3          # Debian python with python3-torch (not the pyenv one)
export DATA_DIR="${DATA_DIR:-$REPO/../shared/datasets}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"   # see train.py --threads

[ -x "$PY" ] || { echo "error: $PY not found; run: bash training/install-deps.sh" >&2; exit 2; }
"$PY" -c "import torch, onnx, numpy, matplotlib" 2>/dev/null \
  || { echo "error: python3-torch/onnx/numpy/matplotlib missing; run: bash training/install-deps.sh" >&2; exit 2; }
[ -d "$DATA_DIR" ] || { echo "error: data directory not found: $DATA_DIR (set DATA_DIR)" >&2; exit 2; }
[ -f "$REPO/libs/model/dist/tokenizer.js" ] || { echo "error: libs/model is not built; run: make build" >&2; exit 2; }

CELL=lstm
for a in "$@"; do if [ "$a" = gru ]; then CELL=gru; fi; done
RUN="${RUN_NAME:-$MODEL}"; OUT="$REPO/models/$MODEL"
if [ "$CELL" = gru ]; then RUN="$MODEL-gru"; OUT="$HERE/.work/$RUN/model"; fi
OUT="${OUT_DIR:-$OUT}"       # e.g. OUT_DIR=/tmp/x to test without replacing models/
WORK="$HERE/.work/$RUN"
mkdir -p "$WORK"
cd "$HERE"
start=$(date +%s)
distil=1
[ "${RECIPE:-}" = plain ] && distil=0

echo "== [1/8] data ($DATA_DIR)" >&2
"$PY" -c "import sys, data; data.prepare(sys.argv[1], sys.argv[2])" "$MODEL" "$WORK"
"$PY" -c "import json,sys; [print(t) for t in json.load(open('parity_texts.json'))]" > "$WORK/parity.txt"

if [ "$distil" = 1 ]; then
  echo "== [2/8] teacher $TEACHER and the transfer set it labels" >&2
  TEACHER_DIR="${TEACHER_DIR:-$REPO/models/$TEACHER}"   # env TEACHER_DIR: another teacher folder
  if [ ! -f "$TEACHER_DIR/config.json" ]; then bash "$HERE/train-teacher.sh" "$TEACHER"; fi
  bash "$HERE/fetch-teacher.sh"   # --init-emb teacher reads the encoder's tokenizer and embeddings
  # env PER_TEXT_OVERRIDE / AUGMENT_ARGS: a smaller transfer set for a smoke run
  "$PY" augment.py "$WORK" --model "$MODEL" --per-text "${PER_TEXT_OVERRIDE:-$PER_TEXT}" ${AUGMENT_ARGS:-}
  node teacher-logits.mjs "$TEACHER_DIR" "$WORK/transfer.txt" "$WORK/teacher_logits.f32"
  "$PY" -c "import json, sys; c = json.load(open(sys.argv[1])); json.dump({'name': c['name'], 'version': c['version']}, open(sys.argv[2], 'w'))" \
    "$TEACHER_DIR/config.json" "$WORK/teacher.json"      # export.py records it in the student's config.json
  "$PY" -c "import numpy as np, sys; n = len(open(sys.argv[1]).read().splitlines()); a = np.fromfile(sys.argv[2], dtype='<f4'); np.save(sys.argv[3], a.reshape(n, -1))" \
    "$WORK/transfer.gold" "$WORK/teacher_logits.f32" "$WORK/teacher_logits.npy"
  CORPUS="$WORK/transfer.txt"
else
  CORPUS="$WORK/train.txt"
fi

echo "== [3/8] vocabulary (pre-tokenized by xenova in Node, emoji as their CLDR names)" >&2
"$PY" vocab.py bootstrap "$WORK/boot" --max-length "$MAX_LEN"
node emoji.mjs "$WORK/boot/emoji.json"
"$PY" vocab.py lexicon-words "$WORK"
node pretokenize.mjs "$WORK/boot" "$CORPUS" "$WORK/train.words"
node pretokenize.mjs "$WORK/boot" "$WORK/lexicon_entries.txt" "$WORK/lexicon.words"
"$PY" vocab.py build "$WORK/tokenizer" "$WORK/train.words" --lexicon-tokens "$WORK/lexicon.words" \
  --max-length "$MAX_LEN"
cp "$WORK/boot/emoji.json" "$WORK/tokenizer/emoji.json"

echo "== [4/8] tokenize with the serving tokenizer (libs/model, Node)" >&2
if [ "$distil" = 1 ]; then
  node tokenize-corpus.mjs "$WORK" tokenizer "$MAX_LEN" "$WORK/transfer.txt" "$WORK/train.ids.jsonl" --mask '[UNK]'
  cp "$WORK/transfer.gold" "$WORK/train.labels"        # gold label of the originals, -1 elsewhere
  TRAIN_ARGS=("${DISTIL[@]}" --soft "$WORK/teacher_logits.npy")
  EXPORT_ARGS=(--window-stride "$WINDOW_STRIDE")
else
  node tokenize-corpus.mjs "$WORK" tokenizer "$MAX_LEN" "$WORK/train.txt" "$WORK/train.ids.jsonl"
  TRAIN_ARGS=("${PLAIN[@]}")
  EXPORT_ARGS=()
fi
for split in dev parity; do
  node tokenize-corpus.mjs "$WORK" tokenizer "$MAX_LEN" "$WORK/$split.txt" "$WORK/$split.ids.jsonl"
done
node tokenize-corpus.mjs "$WORK" tokenizer "$MAX_LEN" "$WORK/parity.txt" "$WORK/parity.full.ids.jsonl" --full

echo "== [5/8] train" >&2
"$PY" train.py "$WORK" --model "$MODEL" "${TRAIN_ARGS[@]}" "$@"

echo "== [6/8] export ONNX + model folder" >&2
"$PY" export.py "$WORK" "$OUT" --model "$MODEL" --max-length "$MAX_LEN" "${EXPORT_ARGS[@]}"

echo "== [7/8] verify with onnxruntime-node" >&2
node verify-onnx.mjs "$OUT"

echo "== [8/8] dev metrics through the CLI, behaviour rates, AFINN / VADER, model card" >&2
if [ "$OUT" = "$REPO/models/$MODEL" ]; then   # baselines.json holds the shipped models' figures only
  node baselines.mjs "$OUT"
  node measure.mjs "$OUT"
  "$PY" card.py "$OUT" "$WORK"
fi
echo "done: $OUT in $(( ($(date +%s) - start) / 60 )) min" >&2
