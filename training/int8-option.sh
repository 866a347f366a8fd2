#!/usr/bin/env bash
# The int8-LSTM option of a shipped BiLSTM (issue 15, item 3): models/options/MODEL-int8/, the same
# folder with model.onnx's LSTM replaced by ONNX Runtime's DynamicQuantizeLSTM (quantize_lstm.py).
#   bash training/int8-option.sh sst2-bilstm|tweeteval-bilstm
# Selected with a path: MODEL=models/options/sst2-bilstm-int8 (or --model models/options/...).
# Its activations are quantized per call over the whole batch, so a text's logits move a little
# with its batch neighbours: parity.jsonl holds the int8 logits of each text scored alone (ONNX
# Runtime, deterministic), and config.json quantization.batch_tolerance the largest batched
# difference measured here, which verify-onnx.mjs and libs/model's options test allow.
set -euo pipefail
MODEL="${1:-}"
case "$MODEL" in sst2-bilstm|tweeteval-bilstm) ;; *) echo "usage: bash training/int8-option.sh sst2-bilstm|tweeteval-bilstm" >&2; exit 2 ;; esac
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
SRC="${SRC_DIR:-$REPO/models/$MODEL}"
OUT="${OUT_DIR:-$REPO/models/options/$MODEL-int8}"
export DATA_DIR="${DATA_DIR:-$REPO/../shared/datasets}"
[ -f "$SRC/config.json" ] || { echo "error: $SRC not built (make train MODEL=$MODEL)" >&2; exit 2; }
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
for f in tokenizer.json tokenizer_config.json emoji.json config.json; do [ -f "$SRC/$f" ] && cp "$SRC/$f" "$OUT.tmp/"; done
/usr/bin/python3 "$HERE/quantize_lstm.py" "$SRC" "$OUT.tmp/model.onnx"
node "$HERE/int8-option.mjs" "$SRC" "$OUT.tmp"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
node "$HERE/verify-onnx.mjs" "$OUT"
echo "done: $OUT" >&2
