# sentiment-stream: every entry point a person or CI needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Node.js 24: the machine's node when it is >= 24.6, else the official binary fetched once from the
# npm registry into .cache/node (deploy/node/ensure-node.sh). Every recipe below runs with it first
# on PATH; npm stays the machine's (npm 11 runs on Node 24).
NODE_BIN := $(shell bash deploy/node/ensure-node.sh || echo FAILED)
ifeq ($(NODE_BIN),FAILED)
$(error Node.js 24 is needed and could not be fetched (see the ensure-node line above))
endif
ifneq ($(NODE_BIN),)
export PATH := $(NODE_BIN):$(PATH)
endif
# onnxruntime-node's install script would fetch the CUDA provider from a feed CI cannot reach; the
# CPU and WebGPU providers ship in the npm package. GPU images set ONNXRUNTIME_NODE_INSTALL=cuda12.
export ONNXRUNTIME_NODE_INSTALL ?= skip

MODEL ?= sst2-bilstm
NPM_STAMP := node_modules/.install-stamp
WORKSPACE_MANIFESTS := package.json package-lock.json $(wildcard libs/*/package.json services/*/package.json)
WITH_BROKER := bash deploy/kafka/with-broker.sh
CLI := node services/cli/dist/main.js
# Every vitest run also writes a JSON report here; .ci/run sums them into one closing line.
REPORTS := .cache/test-reports
VITEST_REPORT = --reporter=default --reporter=json --outputFile.json=$(REPORTS)/$(1).json

.PHONY: help install build lint typecheck-tests test test-unit test-integration test-rules prometheus-deps kafka-up kafka-down train-deps train train-int8 demo docs helm-check helm-sync bench bench-deps test-faults clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# npm ci only when node_modules is missing or older than a manifest or the lockfile.
$(NPM_STAMP): $(WORKSPACE_MANIFESTS)
	@command -v node >/dev/null || { echo "Node.js >= 24.6 is needed (node not found)" >&2; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

install: $(NPM_STAMP) ## install npm dependencies when missing or stale

build: install ## compile every package (tsc -b)
	npx tsc -b

lint: install ## eslint over the whole repo
	npx eslint .

# tsc -b builds libs/ and services/ only; the suites under test/ run through vitest, which strips
# types without checking them, so they are type-checked here.
TEST_TSCONFIGS := $(wildcard test/*/tsconfig.json)
typecheck-tests: build ## type-check the test suites (test/*/tsconfig.json)
	@for p in $(TEST_TSCONFIGS); do echo "npx tsc -p $$p --noEmit"; npx tsc -p $$p --noEmit || exit 1; done

test-unit: build ## unit tests (no broker), the benchmark's pure parts included
	npx vitest run --project unit $(call VITEST_REPORT,unit)
	npx vitest run --config test/bench/vitest.config.ts $(call VITEST_REPORT,unit-bench)

# Every Kafka client the project ships is tested (the default first); the suites that never start a
# scorer (plumbing, the Java tools) run once.
KAFKA_CLIENTS := platformatic kafkajs
CLIENT_FREE_SUITES := test/integration/plumbing.test.ts test/integration/interop-tools.test.ts
test-integration: build prometheus-deps ## integration tests against a real broker (KAFKA_BROKERS, or a local one started and stopped here) and a real Prometheus, once per Kafka client
	first=1; for c in $(KAFKA_CLIENTS); do \
	  echo "== integration suite, KAFKA_CLIENT=$$c"; \
	  excl=; [ -n "$$first" ] || for f in $(CLIENT_FREE_SUITES); do excl="$$excl --exclude $$f"; done; \
	  KAFKA_CLIENT=$$c $(WITH_BROKER) npx vitest run --project integration $$excl $(call VITEST_REPORT,integration-$$c) || exit 1; \
	  first=; \
	done

test-rules: ## promtool check + unit tests of the Prometheus rules (installs promtool if missing)
	bash deploy/prometheus/check.sh

prometheus-deps: ## install promtool and the Prometheus server (Debian package; no service is started)
	bash deploy/prometheus/install.sh

helm-check: install ## render the Helm chart with Helm's own engine for each value set and validate every object; check the Dockerfiles and the compose stack
	VITEST_ARGS="$(call VITEST_REPORT,helm)" bash test/helm/helm-check.sh

helm-sync: ## copy deploy/prometheus rules and deploy/grafana dashboards into the chart (they stay the one source)
	node test/helm/sync-chart-files.mjs

# Its own broker (KAFKA_BROKERS emptied): the outage scenario stops and restarts it.
FAULTS_KAFKA_PORT ?= 49092
test-faults: build ## fault suite on every Kafka client: crashes, broker outage, cluster failover, rebalances, stuck and dying workers, refused outputs, 1M backlog, poison; rewrites docs/reliability.md
	KAFKA_PORT=$(FAULTS_KAFKA_PORT) KAFKA_BROKERS= $(WITH_BROKER) npx vitest run --config test/faults/vitest.config.ts $(call VITEST_REPORT,faults)

test: build lint typecheck-tests test-unit test-rules helm-check test-integration test-faults ## everything CI runs

kafka-up: install ## start the local Apache Kafka broker (KAFKA_VERSION, KAFKA_PORT; SECURE=1 for TLS + SASL)
	bash deploy/kafka/kafka-up.sh

kafka-down: ## stop the broker kafka-up started
	bash deploy/kafka/kafka-down.sh

train-deps: ## install Debian's PyTorch and friends for training
	bash training/install-deps.sh

train: train-deps build ## build a shipped model: make train MODEL=sst2-bilstm|tweeteval-bilstm|sst2-minilm|tweeteval-minilm (a BiLSTM trains its MiniLM teacher first if missing; ~1-2 h on 2 cores, resumable)
	bash training/train.sh $(MODEL) $(ARGS)

train-int8: build ## the int8-LSTM option of a shipped BiLSTM: make train-int8 MODEL=sst2-bilstm -> models/options/sst2-bilstm-int8
	bash training/int8-option.sh $(MODEL)

demo: build ## run the whole service on a local broker with sample texts; Ctrl-C stops everything
	$(WITH_BROKER) $(CLI) demo

docs: build ## regenerate the configuration tables in docs/configuration.md from the schemas
	node --input-type=module -e "import { readFileSync, writeFileSync } from 'node:fs'; import { renderConfigDoc } from './services/cli/dist/config-docs.js'; const f = 'docs/configuration.md'; writeFileSync(f, renderConfigDoc(readFileSync(f, 'utf8')));"

BENCH_KAFKA_PORT ?= 39092
# The broker's G1 pauses go to a GC log the bench reads for its tail-latency attribution.
BENCH_BROKER_HEAP ?= -Xms256m -Xmx1g -Xlog:gc:file=$(CURDIR)/.cache/kafka/run/$(BENCH_KAFKA_PORT)/gc.log:timemillis
bench-deps: ## what make bench needs for its plots (Debian's python3-matplotlib, when missing)
	bash test/bench/install-deps.sh

bench: build bench-deps ## benchmark the scorer against its bounds and every choice (clients, compression, models) through a local broker (QUICK=1: indicative, ~10 min); see docs/performance.md
	KAFKA_PORT=$(BENCH_KAFKA_PORT) KAFKA_HEAP_OPTS="$(BENCH_BROKER_HEAP)" QUICK=$(QUICK) $(WITH_BROKER) node --import tsx test/bench/bench.ts

clean: ## remove build outputs (keeps node_modules and the Kafka cache)
	rm -rf libs/*/dist services/*/dist libs/*/tsconfig.tsbuildinfo services/*/tsconfig.tsbuildinfo
