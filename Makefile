# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
INSTALLED := $(VENV)/.installed-$(shell cksum requirements.lock | cut -d' ' -f1)

.PHONY: install run test test-dates browser lint format schema lock bench clean

$(INSTALLED): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.lock
	@rm -f $(VENV)/.installed-* && touch $@

install: $(INSTALLED)

## Start web, worker and beat on the embedded default (SQLite, file broker), with demo data.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile -p $(PORT)

## Debian's chromium for the browser test (tests/browser), installed when /usr/bin/chromium is
## missing; apt-get update runs only when the install fails without it. If it cannot be
## installed, the browser test fails in CI (REQUIRE_SERVICES=1) and is skipped locally.
CHROMIUM_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
browser:
	@test -x /usr/bin/chromium || { \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "Installing Debian's chromium for the browser test"; \
	  $$sudo env $(CHROMIUM_INSTALL) \
	  || { $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && $$sudo env $(CHROMIUM_INSTALL); } \
	  || echo "WARNING: could not install chromium; tests/browser will fail in CI and skip locally"; }

## Lint, the whole test suite (the browser test included), and the schema drift check.
test: install browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest

## The date-sensitive suite again with the clock pinned at each of TEST_DATES (CI runs it after
## `make test`): a day inside the Spring Festival holiday, a make-up working Saturday, a day of
## the National Day week, the last working day of a year, and a UTC evening that is already the
## next (rest) day in Beijing. `make test TEST_TODAY=2026-02-18` reproduces one date; see
## tests/pinned_clock.py. The browser test is left out: Chromium keeps the real clock.
TEST_DATES ?= 2026-02-18 2026-02-28 2026-10-05 2026-12-31 2026-02-14T17:30:00Z
test-dates: install
	@failed=""; for day in $(TEST_DATES); do \
	  echo "== make test-dates: the suite with TEST_TODAY=$$day"; \
	  TEST_TODAY=$$day $(BIN)/python -m pytest -q -m "not browser" || failed="$$failed $$day"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test-dates: failed at TEST_TODAY in:$$failed"; exit 1; fi; \
	echo "make test-dates: passed at every date in TEST_DATES ($(TEST_DATES))"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Regenerate openapi/v1.yaml; tests/test_openapi.py fails when the committed file drifts.
schema: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py spectacular --api-version v1 --validate --fail-on-warn --file openapi/v1.yaml

## Re-pin requirements.lock from the ranges in pyproject.toml, in a throwaway venv.
lock:
	rm -rf var/lock-venv && $(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/pip install --disable-pip-version-check -q ".[dev]"
	{ echo "# Exact versions that make and CI install. Regenerate with: make lock"; \
	  echo "# (pyproject.toml declares the ranges; this file pins one tested set of them.)"; \
	  var/lock-venv/bin/pip freeze --exclude-editable | grep -v '^export-license-tracker'; } > requirements.lock
	rm -rf var/lock-venv

## Benchmarks of issues 3 and 4 on PostgreSQL, in databases named bench* (seeded once, then
## re-used); prints one `bench: ... PASS|MISS` line per result. See tests/benchmarks/run.py.
bench: install
	DATABASE_URL="$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench}" \
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m tests.benchmarks.run

clean:
	rm -rf var/ .pytest_cache
