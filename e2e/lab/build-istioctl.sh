#!/usr/bin/env bash
# Builds Istio's own istioctl from its Go module into the tools cache, once per pinned version, so the
# lab can check that the real CLI reads our components (ztunnel /config_dump, waypoint Gateways).
# Output: $XDG_CACHE_HOME/ambient-mesh/tools/istioctl-<version>/bin/istioctl (default ~/.cache).
# Prints that bin dir last. Idempotent: a present binary is reused.
#
# The pin is a pseudo-version of istio.io/istio (master of 2026-08-27, commit eed52ebb66ad), not a
# release: it is the only version of the module served here. The module has no replace directives,
# so `go install <pkg>@<version>` builds it with exactly its own go.mod/go.sum.
set -euo pipefail

ISTIO_MODULE_VERSION="${ISTIO_MODULE_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}"
PKG="istio.io/istio/istioctl/cmd/istioctl"

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ambient-mesh"
OUT="$CACHE/tools/istioctl-${ISTIO_MODULE_VERSION}"
BIN="$OUT/bin"
log() { echo "build-istioctl: $*" >&2; }

if [[ -x "$BIN/istioctl" ]]; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || { echo "build-istioctl: go not found on PATH" >&2; exit 1; }
mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/build-istioctl.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS

# The short commit of the pseudo-version, shown by `istioctl version`.
rev="${ISTIO_MODULE_VERSION##*-}"
V="istio.io/istio/pkg/version"
LDFLAGS="-s -w -X $V.buildVersion=$ISTIO_MODULE_VERSION -X $V.buildGitRevision=$rev -X $V.buildStatus=Clean -X $V.buildTag=$ISTIO_MODULE_VERSION"

log "building $PKG@$ISTIO_MODULE_VERSION (CGO_ENABLED=0, -trimpath)"
# GOBIN into a scratch dir first, then one rename: an interrupted build never leaves a half binary.
# Run from the scratch dir so no surrounding go.mod/go.work takes part.
( cd "$WORK"
  CGO_ENABLED=0 GOBIN="$WORK/bin" \
    go install -trimpath -ldflags "$LDFLAGS" "$PKG@$ISTIO_MODULE_VERSION"
)
[[ -x "$WORK/bin/istioctl" ]] || { echo "build-istioctl: go install produced no istioctl" >&2; exit 1; }
mkdir -p "$BIN"
mv "$WORK/bin/istioctl" "$BIN/istioctl.tmp"
mv "$BIN/istioctl.tmp" "$BIN/istioctl"
log "built in $((SECONDS - start))s"
echo "$BIN"
