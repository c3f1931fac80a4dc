# Shadowkeep developer targets. `make help` lists them. Every target that needs tools runs `setup`
# first, which installs them idempotently (Debian packages, Node.js 24, npm packages, Go-built tools).
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
NODE_VERSION := $(shell sed -n 's/^NODE_VERSION=//p' hack/lib.sh)
export PATH := $(ROOT)/.cache/bin:$(ROOT)/.cache/tools/node-$(NODE_VERSION)/bin:$(ROOT)/node_modules/.bin:$(PATH)
ARGS ?=

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_-]+:.*?##/ {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Install everything needed (idempotent): Debian packages, Node.js 24, npm packages, Go tools.
	@hack/setup.sh

##@ Development

.PHONY: build
build: setup ## Compile the TypeScript (controller, agent, CLI, tests) into dist/.
	tsc -p tsconfig.json

.PHONY: lint
lint: setup ## Run ESLint (type-checked rules) and Prettier.
	eslint .
	prettier --check .

.PHONY: helm-lint
helm-lint: setup ## Lint the Helm chart (strict).
	helm lint --strict charts/shadowkeep

.PHONY: generate
generate: setup ## Regenerate files derived from crds/ (TypeScript types, chart CRD templates).
	@if [ -x hack/generate.sh ]; then hack/generate.sh; else echo "nothing to generate yet"; fi

.PHONY: verify
verify: setup ## Fail when generated files drift from their sources.
	@if [ -x hack/verify.sh ]; then hack/verify.sh; else echo "nothing to verify yet"; fi

##@ Test

.PHONY: test
test: build verify ## Run unit, integration, end-to-end and short reliability tests; ends with "N passed, N failed".
	SHADOWKEEP_RELIABILITY=short hack/run-tests.sh unit integration e2e reliability

.PHONY: test-unit
test-unit: build ## Unit tests (no API server).
	hack/run-tests.sh unit

.PHONY: test-integration
test-integration: build ## Integration tests against a real local control plane.
	hack/run-tests.sh integration

.PHONY: test-e2e
test-e2e: build ## End-to-end flows (control plane, agents, repositories).
	hack/run-tests.sh e2e

.PHONY: test-reliability
test-reliability: build ## Reliability and security suite, full trials: prints the figures of docs/reliability.md.
	SHADOWKEEP_RELIABILITY=full hack/run-tests.sh reliability

.PHONY: bench
bench: build ## Benchmarks against peers (prints a table, saves JSON under bench/results/).
	@if [ -x hack/bench.sh ]; then hack/bench.sh $(ARGS); else echo "no benchmarks yet"; fi

.PHONY: bench-copy
bench-copy: build ## Offsite copy throughput and bytes sent, against restic copy (ARGS="--size-mib 4096").
	hack/bench/copy.sh $(ARGS)

.PHONY: bench-controller
bench-controller: build ## Controller at scale on its own control plane (e.g. ARGS="--vms 2000 --hosts 100 --points 20000").
	hack/bench/controller.sh $(ARGS)

##@ Run

.PHONY: demo
demo: build ## The local demo: control plane, CRDs, simulated Hyper-V hosts, real backups.
	hack/demo.sh $(ARGS)

.PHONY: control-plane-up
control-plane-up: setup ## Start (or reuse) the local control plane; prints the kubeconfig path.
	hack/control-plane up

.PHONY: control-plane-down
control-plane-down: ## Stop the local control plane started by control-plane-up.
	hack/control-plane down

.PHONY: clean
clean: ## Remove build output (keeps the tool cache).
	rm -rf dist
