# Two commands for a newcomer: `make run` and `make test`. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed
PG_URL_DEFAULT := postgres://postgres@127.0.0.1:5432/erp
PYTEST_WORKERS ?= 2
# The tenancy/RLS, sync, concurrency and compiled-query tests run a second time through PgBouncer in
# transaction pooling mode (`bash .ci/db-services` starts it on 6432; without it the pass is skipped).
PGBOUNCER_URL ?= postgres://postgres@127.0.0.1:6432/erp
POOLED_TESTS ?= tests/test_pgbouncer.py tests/test_tenancy_core.py tests/integrations/test_sync.py \
	tests/inventory/test_concurrency.py tests/finance/test_concurrency.py tests/test_compiled_queries.py \
	--deselect tests/test_compiled_queries.py::test_prepared_statement_is_reused_and_row_level_security_still_applies
# The date-bound tests run again under shifted clocks (tests/clock_plugin.py, time-machine): 15:59,
# 16:01 and 23:59 UTC, a month end and a year end (CLOCKS=1601utc,... picks some).
CLOCKS ?= all
CLOCK_TESTS ?= tests/test_clock.py tests/test_tenant_dates.py tests/finance/test_tenant_dates.py \
	tests/inventory/test_tenant_calendar.py tests/finance/test_reports.py tests/members/test_levels_rfm.py \
	tests/orders/test_reports.py::test_day_boundaries_are_the_tenants_days tests/orders/test_reports.py::test_report_params \
	tests/orders/test_reports.py::test_page_shows_a_bad_date_as_an_error_and_falls_back \
	tests/orders/test_reports.py::test_dashboard_card_and_nav \
	tests/orders/test_reports.py::test_dashboard_card_compares_today_with_yesterday_by_this_time \
	tests/orders/test_api.py::test_bulk_and_queues tests/aftersales/test_api.py::test_bulk_approve_queues_and_report \
	tests/finance/test_carry_forward.py::test_close_carries_forward_first_and_a_closed_period_refuses \
	tests/finance/test_carry_forward.py::test_api_carry_forward_200_and_409 tests/finance/test_carry_forward.py::test_page_button \
	tests/members/test_points.py::test_expiry_is_fifo_and_runs_once \
	tests/members/test_points.py::test_projection_equals_ledger_after_a_mixed_history \
	tests/purchasing/test_planning.py::test_recompute_explains_each_suggestion_and_counts_on_order \
	tests/purchasing/test_planning.py::test_bundle_sales_count_for_components \
	tests/purchasing/test_planning.py::test_partial_recompute_keeps_other_suggestions_and_cancelled_orders_are_forgotten

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
	@if pg_isready -q -h 127.0.0.1 -p $$(echo '$(PGBOUNCER_URL)' | sed -E 's#.*:([0-9]+)/.*#\1#') 2>/dev/null; then \
		echo "Through PgBouncer (transaction pooling): $(PGBOUNCER_URL)"; \
		DATABASE_URL=$(PGBOUNCER_URL) DATABASE_POOL_MODE=transaction TEST_DATABASE_NAME=$${TEST_DATABASE_NAME:-test_erp}_pooled \
		TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} $(PY) -m pytest -p no:xdist --create-db $(POOLED_TESTS); \
	else echo "No PgBouncer at $(PGBOUNCER_URL) (bash .ci/db-services starts one): the pooled pass is skipped"; fi
	@echo "Clock pass: the date-bound tests under the clocks $(CLOCKS) (tests/clock_plugin.py)"
	@DATABASE_URL=$${DATABASE_URL:-$(PG_URL_DEFAULT)} TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
		TEST_DATABASE_NAME=$${TEST_DATABASE_NAME:-test_erp}_clock \
		$(PY) -m pytest -n $(PYTEST_WORKERS) --create-db -p tests.clock_plugin --clocks=$(CLOCKS) $(CLOCK_TESTS)

lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/lint-imports --no-cache --no-logo

bench: install
	@DATABASE_URL=$${DATABASE_URL:-$(PG_URL_DEFAULT)} $(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
