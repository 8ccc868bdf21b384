# Two commands matter: `make demo` and `make test`. Everything else is a building block
# (`make test-fast` runs the unit layer alone: no database, seconds).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA ?=
AS_OF ?=
DEMO_LINES ?= 300000
DEMO_CUSTOMERS ?= 4000

.PHONY: setup demo test test-fast browser bench db-start db-stop clean airflow airflow-stop notebook evaluate citus compose-check

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required (set PYTHON=/path/to/python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

COMPOSE_VENV := .local/compose-venv

$(COMPOSE_VENV)/.installed: requirements-compose.txt
	$(PYTHON) -m venv $(COMPOSE_VENV)
	$(COMPOSE_VENV)/bin/pip install --quiet --no-deps -r requirements-compose.txt
	@touch $@

compose-check: $(COMPOSE_VENV)/.installed ## validate docker-compose.yaml (every profile) against the Compose schema, no engine needed
	$(COMPOSE_VENV)/bin/docker-compose -f docker-compose.yaml --env-file .env.example --profile citus --profile flower --profile debug config -q

setup: $(VENV)/.installed ## create .venv and install both locks (requirements-dev.txt includes requirements.txt)

db-start: setup ## start the embedded PostgreSQL
	$(BIN)/segments db start

db-stop: setup
	$(BIN)/segments db stop

demo: db-start ## load data (synthetic, or DATA=path), run the DAG once, print the segments
ifeq ($(strip $(DATA)),)
	$(BIN)/segments generate --lines $(DEMO_LINES) --customers $(DEMO_CUSTOMERS)
else
	$(BIN)/segments load "$(DATA)"
endif
	@echo "Running the DAG through Airflow (task log: .local/demo-run.log) ..."
	@$(BIN)/segments run $(if $(AS_OF),--as-of $(AS_OF),) > .local/demo-run.log 2>&1 || { tail -40 .local/demo-run.log; exit 1; }
	@$(BIN)/segments show

browser: ## Debian's Chromium, for the browser tests (Playwright never downloads a browser here)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: sudo apt-get install chromium"; exit 1; fi; }

citus: setup ## build Citus for the embedded PostgreSQL (cached in ~/.cache/segments: seconds the second time)
	$(BIN)/segments cluster build

test: db-start browser citus $(COMPOSE_VENV)/.installed ## run every test (unit, pipeline, real_data, stack) against the embedded PostgreSQL
	$(BIN)/pytest

test-fast: setup ## the unit tests only: pure functions on tiny frames, no database, no Airflow
	$(BIN)/pytest tests/unit

clean: db-stop ## remove everything local (database files, Airflow home, reports)
	rm -rf .local

airflow: db-start ## a local Airflow (api-server, scheduler, dag-processor, triggerer) on http://localhost:8080
	$(BIN)/segments airflow start

airflow-stop: setup
	$(BIN)/segments airflow stop

evaluate: db-start ## score model configurations on planted archetypes (and DATA=path, the real data): one table, also .local/evaluate/evaluation.json
	$(BIN)/segments evaluate $(if $(DATA),--real "$(DATA)",)

notebook: db-start ## the analysts' notebook (notebooks/explore_segments.ipynb) in JupyterLab, as the read-only role (SEGMENTS_ANALYST_URL, else the local one)
	$(BIN)/segments notebook

SIZES ?= 1000000,10000000
BACKFILL_DAYS ?= 0
CUSTOMERS ?=
CLUSTER_WORKERS ?= 0
SNAPSHOTS ?= 0
bench: db-start ## benchmark: pipeline vs the notebook approach on synthetic histories (CUSTOMERS=1000000 for a million customers, CLUSTER_WORKERS=2 for the warehouse on a Citus cluster too, SNAPSHOTS=180 for the nightly date again after 180 more published snapshots), and BACKFILL_DAYS=N dates of the real data backfilled through the local scheduler (writes .local/bench/)
	$(BIN)/python -m segments.tools.bench --sizes "$(SIZES)" --backfill-days $(BACKFILL_DAYS) $(if $(CUSTOMERS),--customers $(CUSTOMERS),) --cluster-workers $(CLUSTER_WORKERS) --earlier-snapshots $(SNAPSHOTS)
