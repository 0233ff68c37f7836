# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

NODE_STAMP := node_modules/.package-lock.json

.PHONY: install demo test test-long lint typecheck docs browser postgres bench bench-rpc anvil clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(PY) -m pip check
	touch $(STAMP)

# anvil, the development EVM node, comes from npm (package.json); the ledger tests use it.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

install: $(STAMP) $(NODE_STAMP)

anvil: $(NODE_STAMP)

# A run never overwrites an earlier one unless told: make demo replaces its own results/demo.
demo: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/peergrid demo --overwrite

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks tools examples
	$(VENV)/bin/ruff format --check src tests benchmarks tools examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Debian's chromium for the report's browser test (Playwright drives it; nothing is downloaded).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

browser: $(CHROMIUM)

# Debian's PostgreSQL server for the service's database tests: each test run starts a throwaway
# cluster of its own (initdb in a temporary folder, 127.0.0.1 only) and removes it.
PG_INITDB := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
postgres:
ifeq ($(PG_INITDB),)
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends postgresql
endif

# The documentation site, warnings as errors; the reference pages are generated from the code.
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet

# Two workers: the machine's two cores (pytest-xdist); every test stays independent.
# The whole default reproductions (minutes each, every one with a fast test of its own in
# make test) run in make test-long; CI runs both.
test: $(STAMP) $(NODE_STAMP) $(CHROMIUM) postgres lint typecheck docs
	$(VENV)/bin/pytest -n 2 -m "not long"

test-long: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/pytest -n 2 -m long

bench: $(STAMP)
	$(PY) benchmarks/demo_day.py

bench-rpc: $(STAMP) $(NODE_STAMP)
	$(PY) benchmarks/ledger_rpc.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache site
