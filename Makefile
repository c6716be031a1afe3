# The two commands most people need:
#   make run    start the whole platform on this machine with demo data (embedded store)
#   make test   the whole test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format test-faults test-mongo bench bench-smoke seed rebuild status parked broker browser clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]'
	@touch $(STAMP)

venv: $(STAMP)

broker:
	@scripts/ensure-rabbitmq

browser:
	@scripts/ensure-chromium
	@scripts/ensure-axe-core

run: $(STAMP) broker
	$(BIN)/portalctl run

# Every suite on one copy of each service, then the whole end-to-end suite again on two,
# whose portal_query copies load in a child process however small the store.
test: $(STAMP) broker browser lint
	$(BIN)/python -m pytest
	PORTAL_REPLICAS=2 PORTAL_LOAD_APART_FROM=0 $(BIN)/python -m pytest tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-faults: $(STAMP) broker
	$(BIN)/python -m pytest -m faults

# The MongoDB backend against a real server: MONGO_URI if set, else a throwaway single-node
# replica set in Docker (removed afterwards).
test-mongo: $(STAMP) broker
	$(BIN)/python -m tests.support.mongo_server $(BIN)/python -m pytest tests/contract tests/e2e tests/faults

bench: $(STAMP) broker
	$(BIN)/python -m bench
	$(BIN)/python -m bench.copies

bench-smoke: $(STAMP) broker
	$(BIN)/python -m bench --smoke

seed rebuild status parked: $(STAMP)
	$(BIN)/portalctl $@

clean:
	rm -rf var .pytest_cache
