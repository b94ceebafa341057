# provledger: `make test` sets up everything it needs on a fresh machine, then reuses it.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
ARTIFACTS_STAMP := build/contracts/.compiled
SOURCES := $(shell find contracts -name '*.sol') contracts/compiler.json hardhat.config.js

.PHONY: test demo setup compile typecheck contract-test postgres chromium geth pytest gas bench figures soak clean

test: setup compile typecheck contract-test pytest

setup: $(VENV_STAMP) $(NPM_STAMP)

$(VENV_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

compile: $(ARTIFACTS_STAMP)

$(ARTIFACTS_STAMP): $(SOURCES) ledger/compile.py scripts/solc $(VENV_STAMP) $(NPM_STAMP)
	npx hardhat compile
	$(PY) -m ledger.compile
	touch $@

typecheck: $(VENV_STAMP)
	$(PY) -m mypy

# The contract tests and the contract-level attacks (tests/adversarial/contracts.test.js).
contract-test: $(ARTIFACTS_STAMP)
	npx hardhat test $(wildcard tests/contracts/*.test.js) tests/adversarial/contracts.test.js

# Installs PostgreSQL if missing (as root); the tests start their own throwaway server.
postgres:
	scripts/ensure-postgres

# Installs Debian's Chromium if missing (as root); the dashboard tests drive it with playwright-core.
chromium:
	scripts/ensure-chromium

# geth 1.13.15 for the consortium tests, built once with Go (toolchain from the module proxy)
# and cached under build/geth; later runs reuse it.
geth: $(VENV_STAMP)
	$(PY) -m ledger.geth

# pytest exits 5 when it collects nothing; an empty selection is not a failure.
# PROVLEDGER_REQUIRE_ALL=1: PostgreSQL and Chromium were just installed, so their tests fail rather than skip.
pytest: $(ARTIFACTS_STAMP) postgres chromium geth
	PROVLEDGER_REQUIRE_ALL=1 $(PY) -m pytest $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] || exit $$rc; }

demo: $(ARTIFACTS_STAMP)
	$(PY) -m api.cli demo

gas: $(ARTIFACTS_STAMP)
	npx hardhat run scripts/gas.js

bench: $(ARTIFACTS_STAMP) geth postgres
	$(PY) -m scripts.bench || { rc=$$?; $(PY) -m scripts.bench_figures --readme; exit $$rc; }
	$(PY) -m scripts.bench_figures --readme

# The README's Figures table, written anew from bench/results.json (make bench does it too).
figures: $(VENV_STAMP)
	$(PY) -m scripts.bench_figures --readme

# The long runs, bounded: ten fresh consortium starts in a row, a geth away for a minute under
# steady deliveries, schemathesis fuzzing 120 s per role, a node SIGKILLed amid 5,000 writes
# (`make test` runs the same tests with 3 starts, 20 s, 25 s and 1,000 writes).
soak: $(ARTIFACTS_STAMP) postgres geth
	PROVLEDGER_SOAK=1 $(PY) -m pytest tests/consortium/test_start.py tests/consortium/test_outage.py \
		tests/api/test_schemathesis.py tests/node/chain/test_outbox.py

clean:
	rm -rf build .venv node_modules
