# threadguard: the two commands a newcomer needs are `make serve` and `make test`.
# Both bootstrap a virtual environment in .venv (and `make test` the Debian packages the tests use).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SERVE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: serve test lint typecheck train bench bench-http loadtest clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	touch $@

## serve the default model shipped in models/ on http://$(HOST):$(PORT)
serve: $(VENV)/.installed
	$(BIN)/threadguard serve --host $(HOST) --port $(PORT) $(SERVE_ARGS)

## run the whole test suite (installs dev dependencies and the Debian packages tests need)
test: $(VENV)/.installed-dev system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

system-deps:
	@bash scripts/install-system-deps.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy threadguard training service

## retrain the default model from ../shared/data (override with THREADGUARD_DATA_ROOT) as a candidate version
VERSION ?= $(shell date +%Y.%m.%d)
train: $(VENV)/.installed-dev
	$(BIN)/threadguard train --config training/configs/default.toml --version $(VERSION) \
		--out models/threadguard-ngram/candidate-$(VERSION)

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_onnx.py

## HTTP benchmark: no-op vs one comment vs batches of 100, with wrk (Debian package)
BENCH_ARGS ?=
bench-http: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python benchmarks/bench_http.py $(BENCH_ARGS)

## start the service with production settings (2 workers), run locust headless, judge p99 and error rate
LOADTEST_ARGS ?=
loadtest: $(VENV)/.installed-dev
	$(BIN)/python loadtests/run.py $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
