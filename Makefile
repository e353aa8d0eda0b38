# Halon: the two commands a newcomer needs are `make run` and `make test`.
# Every target installs what is missing first.

SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_STAMP := node_modules/.halon-installed
CONFIG ?= cluster-configs/local-3.yaml
TEST_REPORT ?= .tmp/vitest-report.json

.PHONY: help setup proto proto-check build typecheck lint format test run clean sim sim-rc fuzz bench bench-cep bench-raft bench-snapshot-stall bench-rc bench-nodes chromium
CHROMIUM := /usr/bin/chromium

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# Reinstall when the manifest or the lock file is newer than the last install.
$(NODE_STAMP): package.json package-lock.json
	@if [ -n "$$CI" ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	@touch $@

setup: $(NODE_STAMP) ## install dependencies (npm ci on CI, npm install otherwise)

proto: $(NODE_STAMP) ## regenerate src/gen from proto/ (the generated code is committed)
	rm -rf src/gen
	npx buf generate

proto-check: $(NODE_STAMP) ## fail when src/gen is not what proto/ generates
	@rm -rf .tmp/gen-check && mkdir -p .tmp/gen-check
	@npx buf generate -o .tmp/gen-check
	@diff -r .tmp/gen-check/src/gen src/gen > /dev/null || { echo "src/gen is stale: run 'make proto' and commit the result"; exit 1; }
	@echo "proto-check: src/gen is current"

build: $(NODE_STAMP) ## compile TypeScript to dist/ and bundle the dashboard page (dist/web)
	npx tsc -p tsconfig.build.json
	npm run --silent build:web

typecheck: $(NODE_STAMP) ## type-check sources, tests, benchmarks and the dashboard page
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p tsconfig.web.json

lint: $(NODE_STAMP) ## ESLint, Prettier and buf lint
	npx eslint --max-warnings 0 .
	npx prettier --check .
	npx buf lint

format: $(NODE_STAMP) ## rewrite sources with Prettier
	npx prettier --write .

# The dashboard's browser tests drive Debian's Chromium (playwright-core downloads no browser).
$(CHROMIUM):
	@echo "installing Debian's chromium for the dashboard's browser tests"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

chromium: $(CHROMIUM) ## install the headless browser the dashboard tests use (as root)

test: $(NODE_STAMP) $(CHROMIUM) proto-check typecheck lint build ## type-check, lint and run every test
	@mkdir -p $(dir $(TEST_REPORT))
	npx vitest run --reporter=default --reporter=json --outputFile.json=$(TEST_REPORT)

run: build ## build and start the main job (see README)
	node dist/cli/main.js up --config $(CONFIG)

clean: ## remove build output and local cluster data
	rm -rf dist .tmp data

# Long runs: not part of `make test`.
SEED ?=
SEEDS ?= 1000

sim: $(NODE_STAMP) ## Raft simulation: SEED=n replays one seed, SEEDS=n runs n seeds
	npx tsx test/raft/sim/run-sim.ts $(if $(SEED),--seed $(SEED),--seeds $(SEEDS))

sim-rc: $(NODE_STAMP) ## whole-coordinator simulation: SEED=n replays one seed, SEEDS=n runs n seeds
	npx tsx test/sim-rc/run-sim-rc.ts $(if $(SEED),--seed $(SEED),--seeds $(SEEDS))

FUZZ_RUNS ?= 20000
FUZZ_SEED ?=
FUZZ_FILES := test/rc/apply-fuzz.test.ts test/rc/decoder-fuzz.test.ts test/api/request-errors.test.ts

fuzz: $(NODE_STAMP) ## property/fuzz tests of apply and the decoders, FUZZ_RUNS=n cases each (FUZZ_SEED=s replays)
	FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SEED=$(FUZZ_SEED) npx vitest run --testTimeout=86400000 $(FUZZ_FILES)

bench-cep: $(NODE_STAMP) ## CEP library against RxJS and a hand-written reducer
	npx tsx bench/cep/bench-cep.ts

bench-raft: build ## the user's path (SubmitEvents, batches, GetGraph, failover) against etcd; BENCH_QUICK=1 for a short run
	npx tsx bench/raft/bench-raft.ts

bench-snapshot-stall: build ## snapshots of a 10,000-host state while writing: no election, p99 within 2x of steady state
	npx tsx bench/raft/snapshot-stall.ts

bench-rc: $(NODE_STAMP) ## recovery-coordinator apply throughput, snapshot and restore
	npx tsx bench/rc/bench-rc.ts

bench-nodes: build ## N simulated node services (BENCH_NODES, default 1000) against 3 replica processes: liveness, epochs, failover
	npx tsx bench/nodes/bench-nodes.ts

bench: bench-cep bench-raft bench-rc bench-nodes ## every benchmark
