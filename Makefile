# Prequel developer tasks. `make` alone lists them.
#
# Everything runs from the virtualenv in .venv, which `make` creates from nothing when missing
# and re-installs only when pyproject.toml changes.

PYTHON ?= python3
PORT ?= 8000
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`. Most tests wait on subprocesses (portals, agents,
# Chromium), so more workers than cores still pays; PYTEST_ARGS='-n 0' runs in one process.
# loadfile keeps each test file on one worker: module-scoped portals and browsers start once.
PYTEST_WORKERS ?= 3

# The test suite runs its database contract tests on PostgreSQL too, and its Redis-backed
# tests against a real Redis. Override either from the environment.
PREQUEL_TEST_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
PREQUEL_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv run system-deps services test check format bench clean frontend frontend-check

help: ## List the targets
	@echo "Usage: make TARGET [PORT=8000] [PYTEST_ARGS=...] [PYTEST_WORKERS=3]"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv and install Prequel with its dev tools

# Re-runs only when pyproject.toml is newer than the stamp, so repeated `make run` is fast.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(STAMP) ## Start Prequel on port PORT (default 8000); data lives in ./data
	$(BIN)/prequel init --port $(PORT)
	exec $(BIN)/prequel serve --port $(PORT)

system-deps: ## Install Debian's bubblewrap, chromium and the sandbox's runtimes when missing
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	/usr/bin/python3 -c "import pytest" >/dev/null 2>&1 || missing="$$missing python3-pytest"; \
	test -x /usr/bin/python || missing="$$missing python-is-python3"; \
	test -x /usr/bin/node || missing="$$missing nodejs"; \
	test -x /usr/bin/sqlite3 || missing="$$missing sqlite3"; \
	if [ -z "$$missing" ]; then \
		echo "system-deps: bubblewrap, chromium and the sandbox runtimes are installed"; \
	elif [ "$$(id -u)" != 0 ]; then \
		echo "system-deps: missing Debian packages:$$missing" >&2; \
		echo "system-deps: run 'sudo make system-deps' or 'sudo apt-get install$$missing'" >&2; \
		exit 1; \
	else \
		echo "system-deps: installing$$missing"; \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

services: ## Make sure PostgreSQL (:5432) and Redis (:6379) are running
	bash scripts/services.sh

test: $(STAMP) system-deps services ## Run the test suite (PYTEST_ARGS=... passes options)
	PREQUEL_TEST_DATABASE_URL='$(PREQUEL_TEST_DATABASE_URL)' \
	PREQUEL_TEST_REDIS_URL='$(PREQUEL_TEST_REDIS_URL)' \
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Runs all three even when one fails, so one pass shows every problem.
check: $(STAMP) ## ruff format --check, ruff check and mypy (strict)
	@status=0; \
	echo "$(BIN)/ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "$(BIN)/mypy"; $(BIN)/mypy || status=1; \
	exit $$status

format: $(STAMP) ## Format the code and apply ruff's safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Run every benchmarks/bench_*.py script
	@set -e; found=0; \
	for script in benchmarks/bench_*.py; do \
		[ -e "$$script" ] || continue; \
		found=1; \
		echo "== $$script"; \
		$(BIN)/python "$$script"; \
	done; \
	[ "$$found" = 1 ] || echo "bench: no benchmarks/bench_*.py scripts"

clean: ## Remove caches and build output (keeps .venv and ./data)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .benchmarks .hypothesis build dist test-artifacts .coverage
	find . -path ./.venv -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

# The IDE bundle (prequel/web/static/dist/) is committed, so installing Prequel needs no Node.
# Rebuild it from frontend/package-lock.json after changing frontend/; CI checks it is current.
FRONTEND_DIST := prequel/web/static/dist
FRONTEND_MODULES := frontend/node_modules/.package-lock.json

# npm ci only when node_modules is missing or older than the lockfile.
$(FRONTEND_MODULES): frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

frontend: ## Rebuild the IDE bundle (prequel/web/static/dist) from frontend/: npm ci + esbuild
	cd frontend && npm ci --no-audit --no-fund && node build.mjs

frontend-check: $(FRONTEND_MODULES) ## Fail when the committed IDE bundle differs from a fresh build
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd frontend && node build.mjs --outdir "$$tmp" >/dev/null) || exit 1; \
	if diff -r "$$tmp" $(FRONTEND_DIST) >/dev/null; then \
		echo "frontend-check: $(FRONTEND_DIST) matches a fresh build"; \
	else \
		diff -rq "$$tmp" $(FRONTEND_DIST) | sed "s|$$tmp|<fresh build>|" >&2; \
		echo "frontend-check: $(FRONTEND_DIST) is stale: run make frontend and commit" >&2; \
		exit 1; \
	fi
