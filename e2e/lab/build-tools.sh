#!/usr/bin/env bash
# Builds the lab's control-plane tools from their Go modules into the cache, once per pinned version.
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, helm
# Output: $XDG_CACHE_HOME/ambient-mesh/tools/<version>/bin (default ~/.cache). Prints that bin dir last.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ambient-mesh"
STAMP="k8s-${KUBE_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}"
OUT="$CACHE/tools/$STAMP"
BIN="$OUT/bin"
TOOLS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl helm)

have_all() { for t in "${TOOLS[@]}"; do [[ -x "$BIN/$t" ]] || return 1; done; }
if have_all; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || { echo "build-tools: go not found on PATH" >&2; exit 1; }
mkdir -p "$BIN"
WORK="$(mktemp -d "$CACHE/build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
LDFLAGS="-s -w"
log() { echo "build-tools: $*" >&2; }
start=$SECONDS

# --- Kubernetes: a throwaway module that requires k8s.io/kubernetes and pins every staging module.
kmod="$WORK/kube"; mkdir -p "$kmod"
( cd "$kmod"
  go mod init lab.local/kube >/dev/null 2>&1
  gomod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  staging_version="v0${KUBE_VERSION#v1}"
  {
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo "replace ("
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" |
      awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  log "resolving kubernetes $KUBE_VERSION modules"
  go mod tidy -e >&2 || true
  for t in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [[ -x "$BIN/$t" ]] && continue
    log "building $t"
    go build -trimpath -ldflags "$LDFLAGS -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" -o "$BIN/$t.tmp" "k8s.io/kubernetes/cmd/$t"
    mv "$BIN/$t.tmp" "$BIN/$t"
  done
)

# --- etcd: its server module has the main package; build it from a throwaway module too.
if [[ ! -x "$BIN/etcd" ]]; then
  emod="$WORK/etcd"; mkdir -p "$emod"
  ( cd "$emod"
    go mod init lab.local/etcd >/dev/null 2>&1
    echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION" >> go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
    log "building etcd $ETCD_VERSION"
    go mod tidy -e >&2 || true
    go build -trimpath -ldflags "$LDFLAGS" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
    mv "$BIN/etcd.tmp" "$BIN/etcd"
  )
fi

# --- helm
if [[ ! -x "$BIN/helm" ]]; then
  hmod="$WORK/helm"; mkdir -p "$hmod"
  ( cd "$hmod"
    go mod init lab.local/helm >/dev/null 2>&1
    echo "require helm.sh/helm/v3 $HELM_VERSION" >> go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "helm.sh/helm/v3/cmd/helm"\n' > tools.go
    log "building helm $HELM_VERSION"
    go mod tidy -e >&2 || true
    go build -trimpath -ldflags "$LDFLAGS -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$BIN/helm.tmp" helm.sh/helm/v3/cmd/helm
    mv "$BIN/helm.tmp" "$BIN/helm"
  )
fi

have_all || { echo "build-tools: some tools are missing in $BIN" >&2; exit 1; }
log "built in $((SECONDS - start))s"
echo "$BIN"
