#!/usr/bin/env bash
# Installs the Debian packages the lab and the tests need, only those that are missing.
set -euo pipefail
# package:a-file-it-provides
need=(
  iproute2:/usr/sbin/ip
  iptables:/usr/sbin/iptables
  nftables:/usr/sbin/nft
  ipset:/usr/sbin/ipset
  containernetworking-plugins:/usr/lib/cni/bridge
  util-linux:/usr/bin/nsenter
  openssl:/usr/bin/openssl
  curl:/usr/bin/curl
  tcpdump:/usr/bin/tcpdump
  conntrack:/usr/sbin/conntrack
  procps:/usr/bin/pgrep
  build-essential:/usr/bin/g++
  python3:/usr/bin/python3
  iperf3:/usr/bin/iperf3
  mmdebstrap:/usr/bin/mmdebstrap
  umoci:/usr/bin/umoci
  runc:/usr/sbin/runc
)
missing=()
for entry in "${need[@]}"; do
  pkg="${entry%%:*}" file="${entry#*:}"
  [[ -e "$file" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages ${missing[*]}; run as root or install them" >&2; exit 1
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "install-deps: Go is needed to build the lab's control plane (e2e/lab/build-tools.sh)" >&2; exit 1; }
