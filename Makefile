# gitwave — developer entry points. Everything installs into .venv; nothing
# beyond Python 3.11 (and, for the Kubernetes end-to-end tests, Go) is needed.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STATE  ?= $(CURDIR)/.gitwave-demo
# Test tools built from the Go module proxy when Go is present (helm has no
# PyPI or Debian package); kept outside the repo and reused.
TOOLS  ?= $(HOME)/.cache/gitwave/tools
HELM_VERSION ?= v3.19.0
GO     ?= $(shell command -v go || echo /usr/local/go/bin/go)

.PHONY: demo test test-fast lint typecheck unit tools sealed-secrets-build cluster-build cluster-up cluster-down bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## demo: sync the app-of-apps sample (guestbook, then waves) onto the sandbox, and
##   the ProductionDatabase composite (RDS, security group, subnet group, alarm,
##   connection Secret, the Deployment using it) onto the sandbox and the embedded
##   AWS emulator, then print the one graph that holds them
##   (tests/test_demo.py runs these same gitwave lines)
demo: $(STAMP)
	GITWAVE_STATE=$(STATE) $(BIN)/gitwave sync samples/app-of-apps
	GITWAVE_STATE=$(STATE) $(BIN)/gitwave status samples/app-of-apps
	GITWAVE_STATE=$(STATE) $(BIN)/gitwave sync samples/production-database
	GITWAVE_STATE=$(STATE) $(BIN)/gitwave graph samples/production-database
	GITWAVE_STATE=$(STATE) $(BIN)/gitwave validate samples/policy-demo \
	  --policy samples/policies/vap --policy samples/policies/rego
	@echo
	@echo "state kept in $(STATE); try: export GITWAVE_STATE=$(STATE)"

## test: lint, type-check, then the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

build/typecheck/gitwave:
	mkdir -p build/typecheck/gitwave
	for d in engine compositions providers tui; do ln -sfn ../../../$$d build/typecheck/gitwave/$$d; done

typecheck: $(STAMP) build/typecheck/gitwave
	$(BIN)/mypy -p gitwave.engine -p gitwave.compositions -p gitwave.providers -p gitwave.tui

unit: $(STAMP) tools
	PATH="$(TOOLS):$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q

## test-fast: while you work: the tests outside tests/e2e (no control plane) and
##   not marked `slow` (pyproject.toml says what that is), on 2 workers; no lint
##   or type-check. About 2 min on 2 cores. `make test` stays the whole suite
##   (what .ci/run calls).
test-fast: $(STAMP) tools
	PATH="$(TOOLS):$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -n 2 -m "not slow" --ignore=tests/e2e

## sealed-secrets-build: kubeseal and the sealed-secrets controller for the tests
##   (Go module proxy; cached in ~/.cache/gitwave/sealed-secrets; also built by
##   the tests that need them, after collection)
sealed-secrets-build: $(STAMP)
	$(BIN)/python -m tests.sealedsecrets.peers

tools:
	@if [ -x "$(TOOLS)/helm" ]; then :; \
	elif [ -x "$(GO)" ]; then \
	  echo "building helm $(HELM_VERSION) into $(TOOLS) (once)"; \
	  GOBIN="$(TOOLS)" GOFLAGS=-mod=mod "$(GO)" install -trimpath -ldflags='-s -w' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION); \
	else echo "go not found: helm is not built; Helm chart tests will report it missing"; fi
	@if [ -x "$(TOOLS)/opa" ]; then :; \
	elif [ -x "$(GO)" ]; then \
	  echo "building opa (tests/gobuild/opa) into $(TOOLS) (once)"; \
	  cd tests/gobuild/opa && "$(GO)" build -mod=mod -trimpath -ldflags='-s -w' -o "$(TOOLS)/opa" github.com/open-policy-agent/opa; \
	else echo "go not found: opa is not built; the Rego comparison test will fail"; fi
	@if [ -x "$(TOOLS)/registry" ]; then :; \
	elif [ -x "$(GO)" ]; then \
	  echo "building the OCI registry (tests/gobuild/registry) into $(TOOLS) (once)"; \
	  cd tests/gobuild/registry && "$(GO)" build -mod=mod -trimpath -ldflags='-s -w' -o "$(TOOLS)/registry" github.com/distribution/distribution/v3/cmd/registry; \
	else echo "go not found: the OCI registry is not built; the OCI tests will fail"; fi

## the local Kubernetes control plane for tests (see tests/cluster/README.md)
cluster-build:
	$(PYTHON) tests/cluster/controlplane.py build

cluster-up:
	$(PYTHON) tests/cluster/controlplane.py up

cluster-down:
	$(PYTHON) tests/cluster/controlplane.py down

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) build .gitwave-demo .pytest_cache .mypy_cache .ruff_cache

## rollouts-build: the Argo Rollouts controller for the e2e tests (Go module
##   proxy; cached in ~/.cache/gitwave/rollouts; also built by the tests that
##   need it, after collection)
.PHONY: rollouts-build
rollouts-build: $(STAMP)
	$(BIN)/python -m tests.rollouts.peers
