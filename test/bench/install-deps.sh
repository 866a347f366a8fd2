#!/usr/bin/env bash
# What `make bench` needs beyond Node and the broker: a Python with matplotlib for the plots
# (test/bench/plot.py). Debian's python3-matplotlib, as training's install-deps.sh does; quiet and
# without apt when it is already importable. Where apt cannot be used, the bench still writes its
# JSON and Markdown and says how to get the plots.
set -euo pipefail
PY="${PYTHON:-/usr/bin/python3}"
"$PY" -c 'import matplotlib' 2>/dev/null && exit 0
if ! command -v apt-get >/dev/null; then
  echo "bench-deps: $PY has no matplotlib and there is no apt-get; install matplotlib for it (or set PYTHON) to get the plots" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "bench-deps: installing python3-matplotlib (Debian) for the benchmark's plots" >&2
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-matplotlib; }; then
  echo "bench-deps: could not install python3-matplotlib; the bench writes its JSON and Markdown without plots" >&2
fi
