# sentiment-stream: every entry point a person or CI needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

MODEL ?= sst2-bilstm
NPM_STAMP := node_modules/.install-stamp
WORKSPACE_MANIFESTS := package.json package-lock.json $(wildcard libs/*/package.json services/*/package.json)
WITH_BROKER := bash deploy/kafka/with-broker.sh
CLI := node services/cli/dist/main.js

.PHONY: help install build lint test test-unit test-integration kafka-up kafka-down train-deps train demo clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# npm ci only when node_modules is missing or older than a manifest or the lockfile.
$(NPM_STAMP): $(WORKSPACE_MANIFESTS)
	@command -v node >/dev/null || { echo "Node.js >= 20 is needed (node not found)" >&2; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

install: $(NPM_STAMP) ## install npm dependencies when missing or stale

build: install ## compile every package (tsc -b)
	npx tsc -b

lint: install ## eslint over the whole repo
	npx eslint .

test-unit: build ## unit tests (no broker)
	npx vitest run --project unit

test-integration: build ## integration tests against a real broker (KAFKA_BROKERS, or a local one started and stopped here)
	$(WITH_BROKER) npx vitest run --project integration

test: build lint test-unit test-integration ## everything CI runs

kafka-up: install ## start the local Apache Kafka broker (KAFKA_VERSION, KAFKA_PORT)
	bash deploy/kafka/kafka-up.sh

kafka-down: ## stop the broker kafka-up started
	bash deploy/kafka/kafka-down.sh

train-deps: ## install Debian's PyTorch and friends for training
	bash training/install-deps.sh

train: train-deps install ## train, export and package a model: make train MODEL=sst2-bilstm|tweeteval-bilstm
	bash training/train.sh $(MODEL) $(ARGS)

demo: build ## run the whole service on a local broker with sample texts; Ctrl-C stops everything
	$(WITH_BROKER) $(CLI) demo

clean: ## remove build outputs (keeps node_modules and the Kafka cache)
	rm -rf libs/*/dist services/*/dist libs/*/tsconfig.tsbuildinfo services/*/tsconfig.tsbuildinfo
