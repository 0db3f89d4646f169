#!/usr/bin/env bash
# Builds the Gateway API conformance suite (Go module sigs.k8s.io/gateway-api/conformance, its
# TestConformance entry point) as a test binary into the cache, once per pinned version. The suite is
# meant to run as `go test` against a cluster; `go test -c` gives the same thing as one executable
# that takes the suite's flags (-gateway-class, -conformance-profiles, -report-output, ...) after
# the `-test.*` ones, and reads the kubeconfig from KUBECONFIG.
# Output: $XDG_CACHE_HOME/ambient-mesh/conformance/<version>/bin/gateway-conformance (default
# ~/.cache). Prints that bin dir last. About 5 minutes cold on a busy 2-core machine (module downloads included); instant when present.
set -euo pipefail

GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.6.3}"

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ambient-mesh"
OUT="$CACHE/conformance/gateway-api-${GATEWAY_API_VERSION}"
BIN="$OUT/bin"
EXE="$BIN/gateway-conformance"

if [[ -x "$EXE" ]]; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || { echo "build-conformance: go not found on PATH" >&2; exit 1; }
mkdir -p "$BIN"
WORK="$(mktemp -d "$CACHE/build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
log() { echo "build-conformance: $*" >&2; }
start=$SECONDS

# The conformance module replaces sigs.k8s.io/gateway-api with its parent directory (a replace that
# only holds inside their repository), so a throwaway module pins both at the same release.
cmod="$WORK/conformance"; mkdir -p "$cmod"
( cd "$cmod"
  go mod init lab.local/conformance >/dev/null 2>&1
  {
    echo "require ("
    echo "	sigs.k8s.io/gateway-api $GATEWAY_API_VERSION"
    echo "	sigs.k8s.io/gateway-api/conformance $GATEWAY_API_VERSION"
    echo ")"
  } >> go.mod
  printf '//go:build tools\n\npackage tools\n\nimport _ "sigs.k8s.io/gateway-api/conformance"\n' > tools.go
  log "resolving sigs.k8s.io/gateway-api/conformance $GATEWAY_API_VERSION"
  go mod tidy -e >&2 || true
  log "building the conformance test binary"
  go test -c -trimpath -ldflags "-s -w" -o "$EXE.tmp" sigs.k8s.io/gateway-api/conformance
  mv "$EXE.tmp" "$EXE"
)

[[ -x "$EXE" ]] || { echo "build-conformance: $EXE is missing" >&2; exit 1; }
log "built in $((SECONDS - start))s"
echo "$BIN"
