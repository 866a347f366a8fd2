#!/usr/bin/env bash
# Install the Debian Python packages the training pipeline needs.
# Quiet when everything is present; `apt-get update` only when something is missing.
set -euo pipefail
PKGS=(python3-torch libopenblas0-pthread python3-onnx python3-matplotlib python3-numpy)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
