# Two commands for a newcomer: `make run` and `make test`. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed
PG_URL_DEFAULT := postgres://postgres@127.0.0.1:5432/erp
PYTEST_WORKERS ?= 2

.PHONY: install run test lint bench services-check clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	@DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	@DEBUG=$${DEBUG:-1} $(PY) manage.py collectstatic --noinput -v0
	@DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	@DEBUG=$${DEBUG:-1} $(PY) manage.py serve 127.0.0.1:8000

# Tests run on Postgres (DATABASE_URL, default the local server) and need Redis for the Celery tests.
test: install
	@DATABASE_URL=$${DATABASE_URL:-$(PG_URL_DEFAULT)} REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
		$(PY) -m erp.preflight
	@$(VENV)/bin/lint-imports --no-cache --no-logo
	@DATABASE_URL=$${DATABASE_URL:-$(PG_URL_DEFAULT)} TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
		$(PY) -m pytest -n $(PYTEST_WORKERS) --create-db $(PYTEST_ARGS)

lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/lint-imports --no-cache --no-logo

bench: install
	@DATABASE_URL=$${DATABASE_URL:-$(PG_URL_DEFAULT)} $(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
