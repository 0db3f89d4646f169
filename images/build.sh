#!/usr/bin/env bash
# `make images`: one OCI image per component (controller, cni, ztunnel, waypoint), no container
# engine. Layers, bottom up, each a plain tar added with umoci:
#   1. Debian (mmdebstrap, variant essential + images/debian/base.packages), built once and cached;
#   1b. cni only: the netfilter tools (images/debian/netfilter.packages), the difference between a
#       second mmdebstrap run with those packages and layer 1, computed by `umoci repack`;
#   2. the project's Node.js binary (scripts/node-env.sh) as /usr/local/bin/node;
#   3. /app: package.json, the production node_modules (npm ci --omit=dev, cached per lockfile),
#      lib/ without tests, with the netns addon's built netns.node;
#   4. /app/<component>: the component's sources (images/components/<name>.conf), without tests.
# Layers 1-3 are byte-identical in every image, so a registry stores them once.
# Output: build/images/<component>.tar (oci-archive, one image each, ref name = the package.json
# version) and build/images/oci (one OCI layout holding all four, tags = component names).
# Needs root (mmdebstrap, file ownership in layers), mmdebstrap and umoci (scripts/install-deps.sh),
# and a built node_modules (make node_modules). Environment:
#   IMAGES_COMPONENTS   which images (default: controller cni ztunnel waypoint)
#   IMAGES_HUB          registry/repository prefix of the reference names (default ghcr.io/ambient-mesh)
#   IMAGES_TAG          tag (default: version from package.json)
#   SOURCE_DATE_EPOCH   timestamp of layers 2-4 and of the image configs (default: HEAD's commit time)
#   IMAGES_REFRESH_DEBIAN=1  rebuild the cached Debian layers
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/build/images"
# Debian trees and production node_modules are kept between clones (like the lab tools).
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ambient-mesh/images"
WORK="$OUT/work"
LAYOUT="$OUT/oci"

log() { echo "images: $*" >&2; }
die() { echo "images: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (mmdebstrap and root-owned layer files)"
for tool in mmdebstrap umoci tar sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found; run scripts/install-deps.sh"
done

NODE_BIN_DIR="$(scripts/node-env.sh)"
NODE="$NODE_BIN_DIR/node"
NODE_REAL="$(readlink -f "$NODE")"
[[ -x "$NODE_REAL" ]] || die "no node binary at $NODE"
ADDON=lib/netns/native/build/Release/netns.node
[[ -f "$ADDON" ]] || die "$ADDON missing: run make node_modules first"

VERSION="$("$NODE" -p 'require("./package.json").version')"
TAG="${IMAGES_TAG:-$VERSION}"
HUB="${IMAGES_HUB:-ghcr.io/ambient-mesh}"
COMPONENTS=(${IMAGES_COMPONENTS:-controller cni ztunnel waypoint})
SDE="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
CREATED="$(iso "$SDE")"
# The one-file CNI plugin the cni image's agent copies onto each node (deterministic output).
"$NODE" scripts/build-cni-plugin.ts >/dev/null
# ztunnel as one file (no TypeScript stripping at start; less memory).
"$NODE" scripts/build-ztunnel.ts >/dev/null

# shellcheck source=images/debian/debian.conf
source images/debian/debian.conf
packages() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$1" | tr -d ' \t' | paste -sd, -; }
BASE_PKGS="$(packages images/debian/base.packages)"
NETFILTER_PKGS="$(packages images/debian/netfilter.packages)"
# Only the machine's Debian sources (not third-party lists); deb822 or one-line format.
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then APT_SOURCES=/etc/apt/sources.list.d/debian.sources
elif [[ -s /etc/apt/sources.list ]]; then APT_SOURCES=/etc/apt/sources.list
else die "no Debian apt sources (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)"; fi

mkdir -p "$CACHE" "$WORK"
started=$SECONDS

# --- 1. Debian layers (cached) -------------------------------------------------------------------
debian_key="$( { cat images/debian/debian.conf images/debian/base.packages images/debian/netfilter.packages "$APT_SOURCES"; mmdebstrap --version; dpkg --print-architecture; echo v1; } | sha256sum | cut -c1-16)"
DEB="$CACHE/debian-$debian_key"
if [[ -n "${IMAGES_REFRESH_DEBIAN:-}" ]]; then rm -rf "$DEB"; fi
if [[ ! -f "$DEB/done" ]]; then
  log "building the Debian root filesystems ($DEBIAN_SUITE, $DEBIAN_VARIANT + $BASE_PKGS; + $NETFILTER_PKGS) with mmdebstrap"
  rm -rf "$DEB" && mkdir -p "$DEB"
  mm=(mmdebstrap --variant="$DEBIAN_VARIANT" --mode=root --format=tar
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --customize-hook='rm -f "$1"/etc/hostname "$1"/etc/resolv.conf')
  # The installed versions, for the record (build/images/debian-packages.txt).
  versions() { echo "--customize-hook=chroot \"\$1\" dpkg-query -W -f '\${Package} \${Version}\n' >'$DEB/$1.packages.txt'"; }
  SOURCE_DATE_EPOCH="$DEBIAN_EPOCH" "${mm[@]}" "$(versions base)" --include="$BASE_PKGS" "$DEBIAN_SUITE" "$DEB/base.tar" "$APT_SOURCES" >"$DEB/base.log" 2>&1 &
  p1=$!
  SOURCE_DATE_EPOCH="$DEBIAN_EPOCH" "${mm[@]}" "$(versions netfilter)" --include="$BASE_PKGS,$NETFILTER_PKGS" "$DEBIAN_SUITE" "$DEB/netfilter.tar" "$APT_SOURCES" >"$DEB/netfilter.log" 2>&1 &
  p2=$!
  wait $p1 || die "mmdebstrap (base) failed: see $DEB/base.log"
  wait $p2 || die "mmdebstrap (netfilter) failed: see $DEB/netfilter.log"
  touch "$DEB/done"
fi

# --- 3a. production node_modules (cached per lockfile) --------------------------------------------
npm_key="$(cat package.json package-lock.json | sha256sum | cut -c1-16)"
NPM="$CACHE/npm-$npm_key"
if [[ ! -f "$NPM/done" ]]; then
  log "npm ci --omit=dev (production dependencies)"
  rm -rf "$NPM" && mkdir -p "$NPM"
  cp package.json package-lock.json "$NPM/"
  # No install scripts: ours builds the netns addon (copied from the repository's build instead),
  # and no production dependency needs one to work.
  (cd "$NPM" && PATH="$NODE_BIN_DIR:$PATH" npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  # Type declarations, source maps and docs are never loaded at run time.
  find "$NPM/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -iname '*.md' -o -iname 'CHANGELOG*' \) -delete
  touch "$NPM/done"
fi

# --- layer tarballs --------------------------------------------------------------------------------
# Reproducible: sorted names, one mtime, root-owned, no atime/ctime, permissions normalised.
layer_tar() { # <staging dir> <out.tar> <top-level entries...>
  local dir="$1" out="$2"; shift 2
  tar --create --file "$out" --directory "$dir" --sort=name --format=pax \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --mtime="@$SDE" --owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' "$@"
}
# Copies a source tree without tests, docs and build leftovers.
copy_sources() { # <repo-relative dir> <dest root>
  local src="$1" dest="$2"
  (cd "$ROOT" && find "$src" -type f ! -name '*.test.ts' ! -name '*.md' ! -path '*/node_modules/*' ! -path '*/build/*' -print0 |
    xargs -0 --no-run-if-empty cp --parents --no-preserve=all -t "$dest")
}

rm -rf "$WORK" && mkdir -p "$WORK/layers"
log "layers: node $("$NODE" --version), /app (lib + production node_modules), components ${COMPONENTS[*]}"
mkdir -p "$WORK/node/usr/local/bin"
cp "$NODE_REAL" "$WORK/node/usr/local/bin/node"
layer_tar "$WORK/node" "$WORK/layers/node.tar" ./usr

mkdir -p "$WORK/app/app"
cp package.json "$WORK/app/app/"
cp -a "$NPM/node_modules" "$WORK/app/app/"
copy_sources lib "$WORK/app/app"
rm -rf "$WORK/app/app/lib/netns/native"
mkdir -p "$WORK/app/app/lib/netns/native/build/Release"
cp "$ADDON" "$WORK/app/app/lib/netns/native/build/Release/netns.node"
layer_tar "$WORK/app" "$WORK/layers/app.tar" ./app

# --- the OCI layout --------------------------------------------------------------------------------
rm -rf "$LAYOUT"
umoci init --layout "$LAYOUT"
deb_created="$(iso "$DEBIAN_EPOCH")"
umoci new --image "$LAYOUT:debian"
umoci raw add-layer --image "$LAYOUT:debian" --history.created "$deb_created" \
  --history.created_by "mmdebstrap --variant=$DEBIAN_VARIANT --include=$BASE_PKGS $DEBIAN_SUITE" "$DEB/base.tar"

needs_netfilter=false
for c in "${COMPONENTS[@]}"; do
  [[ -f images/components/$c.conf ]] || die "unknown component $c (no images/components/$c.conf)"
  if (source "images/components/$c.conf"; [[ $BASE == debian-netfilter ]]); then needs_netfilter=true; fi
done
if $needs_netfilter; then
  # The netfilter layer is what a Debian tree with those packages has beyond the base tree:
  # unpack the base, swap in the bigger tree, and let umoci diff it (additions, changes, deletions).
  umoci unpack --image "$LAYOUT:debian" "$WORK/nf-bundle" >/dev/null
  find "$WORK/nf-bundle/rootfs" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  tar --extract --file "$DEB/netfilter.tar" --directory "$WORK/nf-bundle/rootfs" --numeric-owner --same-permissions
  umoci repack --image "$LAYOUT:debian-netfilter" --history.created "$deb_created" \
    --history.created_by "mmdebstrap ... --include=$NETFILTER_PKGS (difference)" "$WORK/nf-bundle" >/dev/null
  rm -rf "$WORK/nf-bundle"
fi

for base in debian debian-netfilter; do
  $needs_netfilter || [[ $base == debian ]] || continue
  umoci raw add-layer --image "$LAYOUT:$base" --tag "$base-runtime" --history.created "$CREATED" \
    --history.created_by "Node.js $("$NODE" --version) as /usr/local/bin/node" "$WORK/layers/node.tar"
  umoci raw add-layer --image "$LAYOUT:$base-runtime" --history.created "$CREATED" \
    --history.created_by "/app: package.json, production node_modules, lib/" "$WORK/layers/app.tar"
done

for c in "${COMPONENTS[@]}"; do
  (
    SOURCES=() ENTRYPOINT=() PORTS=() ENV=() IMAGE_USER='' BASE='' DESCRIPTION=''
    source "images/components/$c.conf"
    mkdir -p "$WORK/$c/app"
    for s in "${SOURCES[@]}"; do copy_sources "$s" "$WORK/$c/app"; done
    layer_tar "$WORK/$c" "$WORK/layers/$c.tar" ./app
    umoci raw add-layer --image "$LAYOUT:$BASE-runtime" --tag "$c" --history.created "$CREATED" \
      --history.created_by "/app: ${SOURCES[*]}" "$WORK/layers/$c.tar"
    args=(--config.workingdir / --config.user "$IMAGE_USER" --config.stopsignal SIGTERM
      --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
      --config.env "NODE_OPTIONS=--disable-warning=ExperimentalWarning"
      --config.env "NODE_ENV=production"
      --config.label "org.opencontainers.image.title=$c"
      --config.label "org.opencontainers.image.description=$DESCRIPTION"
      --config.label "org.opencontainers.image.version=$TAG"
      --config.label "org.opencontainers.image.revision=$REVISION"
      --config.label "org.opencontainers.image.created=$CREATED"
      --created "$CREATED" --author ambient-mesh --architecture "$(dpkg --print-architecture)" --os linux
      --history.created "$CREATED" --history.created_by "config: entrypoint ${ENTRYPOINT[*]}, user $IMAGE_USER")
    for e in "${ENV[@]}"; do args+=(--config.env "$e"); done
    for p in "${PORTS[@]}"; do args+=(--config.exposedports "$p"); done
    for a in "${ENTRYPOINT[@]}"; do args+=(--config.entrypoint "$a"); done
    umoci config --image "$LAYOUT:$c" "${args[@]}"
  )
done
for t in debian debian-netfilter debian-runtime debian-netfilter-runtime; do umoci rm --image "$LAYOUT:$t" 2>/dev/null || true; done
umoci gc --layout "$LAYOUT"

# --- one oci-archive per image ----------------------------------------------------------------------
for c in "${COMPONENTS[@]}"; do
  "$NODE" --disable-warning=ExperimentalWarning scripts/images-archive.ts \
    --layout "$LAYOUT" --tag "$c" --ref-name "$TAG" --image-name "$HUB/$c:$TAG" \
    --mtime "$SDE" --out "$OUT/$c.tar"
done
rm -rf "$WORK"
{
  echo "# built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - started)) s; SOURCE_DATE_EPOCH=$SDE; revision $REVISION"
  for c in "${COMPONENTS[@]}"; do
    printf '%s\t%s:%s\t%s bytes\t%s\n' "$c" "$HUB/$c" "$TAG" "$(stat -c %s "$OUT/$c.tar")" "$(sha256sum "$OUT/$c.tar" | cut -d' ' -f1)"
  done
} >"$OUT/images.txt"
{ echo "# base (every image)"; cat "$DEB/base.packages.txt"; echo "# netfilter (cni) adds"; comm -13 "$DEB/base.packages.txt" "$DEB/netfilter.packages.txt"; } >"$OUT/debian-packages.txt"
cat "$OUT/images.txt" >&2
