# gitwave — developer entry points. Everything installs into .venv; nothing
# beyond Python 3.11 (and, for the Kubernetes end-to-end tests, Go) is needed.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STATE  ?= $(CURDIR)/.gitwave-demo

.PHONY: demo test lint typecheck unit e2e cluster-build cluster-up cluster-down bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## demo: sync every sample onto the embedded sandbox and show the result
demo: $(STAMP)
	GITWAVE_STATE=$(STATE) $(BIN)/gitwave sync samples/guestbook
	GITWAVE_STATE=$(STATE) $(BIN)/gitwave status samples/guestbook

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

unit: $(STAMP)
	$(BIN)/pytest -q

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
