# ambient-mesh. `make demo` and `make test` work on a fresh clone (as root): they install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# A supported Node.js (the machine's if new enough, else a pinned release from the npm registry).
NODE_BIN := $(shell scripts/node-env.sh)
ifeq ($(NODE_BIN),)
$(error could not find or bootstrap Node.js; see scripts/node-env.sh)
endif
export PATH := $(NODE_BIN):$(PATH)
export npm_config_nodedir := $(abspath $(NODE_BIN)/..)
export NODE_OPTIONS := --disable-warning=ExperimentalWarning
VITEST := node_modules/.bin/vitest

.PHONY: help deps node_modules cni-plugin bundles gen tools images test-images typecheck check-deps unit fuzz e2e test demo demo-bookinfo lab-up lab-down bench-l4 bench-l4-profile bench-l4-soak bench-waypoint bench-cni bench-ztunnel-rss bench-controller conformance istioctl test-istioctl clean

help:
	@echo "make demo      bring up the lab cluster (2 nodes), deploy sample apps, show a cross-node request"
	@echo "make demo-bookinfo  the lab with the mesh, a Bookinfo-shaped sample behind a waypoint, and Istio's traffic-management tasks replayed on it"
	@echo "make test      install everything, then run every test (unit + root/netns e2e)"
	@echo "make unit      fast tests only (no root needed)"
	@echo "make fuzz      longer runs of the parser fuzzers (FUZZ_SECONDS per property, default 20; FUZZ_RUNS; FUZZ_SEED to replay)"
	@echo "make images   OCI image archives of controller, cni, ztunnel, waypoint into build/images/ (no container engine; see images/README.md)"
	@echo "make test-images  make images, then start each image under runc"
	@echo "make gen       regenerate lib/proto/gen (TypeScript types from the .proto files)"
	@echo "make lab-up / make lab-down   the lab cluster alone"
	@echo "make test-istioctl  build Istio's istioctl (pinned; ~10 min cold on 2 cores), then check it reads our ztunnel and waypoints on the lab"
	@echo "make conformance  Gateway API MESH-HTTP + MESH-GRPC conformance (gateway-api v1.6.3) on its own lab: ~3 min (+5 min the first time, building the suite); report in /run/ambient-mesh-lab/conformance/"
	@echo "make bench-l4  no mesh vs ztunnel on the lab, side by side (BENCH_SECONDS, BENCH_RATE)"
	@echo "make bench-l4-soak  ztunnel RSS idle, with 1,000 idle connections, and over a 5-minute soak at 1000 req/s (BENCH_SOAK_S)"
	@echo "make bench-l4-profile  CPU profile of both ztunnels under one load (BENCH_PROFILE_LOAD=bulk|rate|connections): self time by function and module"
	@echo "make bench-waypoint  no mesh vs L4 vs L4 + waypoint (HTTP/1.1) on the lab, side by side (BENCH_SECONDS, BENCH_RATE)"
	@echo "make bench-ztunnel-rss  ztunnel RSS idle with 100 captured pods and start-up time: sources vs the bundle"
	@echo "make bench-cni CNI plugin start-up per pod, next to Debian's plugins; node agent add-pod with 200 pods"
	@echo "make bench-controller  controller push latency (pod Ready -> every ztunnel) at 1k and 10k pods, with RSS (BENCH_PODS)"

deps:
	@scripts/install-deps.sh

node_modules: node_modules/.installed
node_modules/.installed: package.json package-lock.json lib/netns/native/binding.gyp $(wildcard lib/netns/native/src/*)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The one-file CNI plugin the node agent copies into each node's CNI bin dir (every target that
# starts an agent needs it).
cni-plugin: node_modules
	@node scripts/build-cni-plugin.ts

# The one-file bundles the lab's Helm-installed mesh and the images run: the CNI plugin and ztunnel.
bundles: cni-plugin
	@node scripts/build-ztunnel.ts

# lib/proto/gen: TypeScript types from every .proto (checked in; rerun after changing a .proto or lib/proto/proto-files.ts).
gen: node_modules
	node scripts/gen-proto.ts

tools: deps
	@e2e/lab/build-tools.sh >/dev/null

# Istio's istioctl from its Go module (pinned in the script; ~10 min cold on 2 cores, then cached):
# e2e/lab/istioctl.test.ts runs it against the lab.
istioctl: deps
	@e2e/lab/build-istioctl.sh >/dev/null

test-istioctl: deps node_modules tools bundles istioctl
	$(VITEST) run --project e2e e2e/lab/istioctl.test.ts

# Debian root filesystem (mmdebstrap) + the project's Node.js + code, assembled by umoci: about
# 110 s cold, 25-35 s warm (the Debian trees and npm install are cached).
images: deps node_modules
	images/build.sh

test-images: images
	$(VITEST) run --project e2e e2e/images/

typecheck: node_modules
	node_modules/.bin/tsc -p tsconfig.json

check-deps: node_modules
	node scripts/check-deps.ts

unit: node_modules typecheck check-deps
	$(VITEST) run --project unit

# The *.fuzz.test.ts suites run briefly inside `unit`; here each property gets FUZZ_SECONDS (and at
# most FUZZ_RUNS runs), so the whole target is bounded by about 40 properties x FUZZ_SECONDS / 2 workers
# (FUZZ_SECONDS=15 took 8 minutes on a busy 2-core machine).
FUZZ_SECONDS ?= 20
FUZZ_RUNS ?= 1000000
fuzz: node_modules
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) $(VITEST) run --project unit .fuzz.test.ts

e2e: deps node_modules tools istioctl bundles
	$(VITEST) run --project e2e

# The images are built first so e2e/images starts each one under runc (a broken image fails here).
# Last, Gateway API's MESH conformance suite on its own lab (make conformance; ~2 min, +5 min the
# first time to build the suite).
test: deps node_modules tools istioctl typecheck check-deps images bundles
	$(VITEST) run --project unit
	$(VITEST) run --project e2e
	node e2e/lab/conformance.ts

demo: deps node_modules tools bundles
	node e2e/lab/demo.ts

demo-bookinfo: deps node_modules tools bundles
	node e2e/lab/demo-bookinfo.ts

lab-up: deps node_modules tools bundles
	e2e/lab/lab up

lab-down: node_modules
	e2e/lab/lab down

clean:
	rm -rf node_modules lib/netns/native/build build

conformance: deps node_modules tools bundles
	node e2e/lab/conformance.ts

bench-l4: deps node_modules tools bundles
	node bench/l4/main.ts

bench-l4-soak: deps node_modules tools bundles
	node bench/l4/soak.ts

bench-l4-profile: deps node_modules tools bundles
	node bench/l4/profile.ts

bench-waypoint: deps node_modules tools bundles
	node bench/waypoint/main.ts

bench-ztunnel-rss: deps node_modules bundles
	node bench/ztunnel/idle-rss.ts

bench-cni: deps node_modules bundles
	node bench/cni/plugin-startup.ts
	node bench/cni/add-pod.ts

bench-controller: deps node_modules tools bundles
	node bench/controller/main.ts
