# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# What the service needs (make run), and the test and lint tools on top (make test).
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
INSTALLED := $(VENV)/.installed-$(shell cksum $(LOCK) | cut -d' ' -f1)
DEV_INSTALLED := $(VENV)/.installed-dev-$(shell cat $(LOCK) $(DEV_LOCK) | cksum | cut -d' ' -f1)

.PHONY: install install-dev run test test-dates browser lint format schema lock bench clean

$(INSTALLED): $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -q -r $(LOCK)
	@rm -f $(VENV)/.installed-* && touch $@

$(DEV_INSTALLED): $(INSTALLED) $(DEV_LOCK)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r $(DEV_LOCK)
	@rm -f $(VENV)/.installed-dev-* && touch $@

## The runtime pins only: what `make run` needs.
install: $(INSTALLED)

## The runtime pins plus the test, lint and client-generation tools.
install-dev: $(DEV_INSTALLED)

## Start web, worker, beat and the demo webhook receiver on the embedded default (SQLite, file
## broker), with demo data; the URLs and credentials follow once they answer. One Ctrl-C stops all.
## Every process learns the web server's port as WEB_PORT (honcho gives each its own PORT).
run: export WEB_PORT = $(PORT)
run: install
	$(BIN)/python -m config.local_stack --check
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python -m config.local_stack

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
test: install-dev browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest

## The date-sensitive suite again with the clock pinned at each of TEST_DATES (CI runs it after
## `make test`): a day inside the Spring Festival holiday, a make-up working Saturday, a day of
## the National Day week, the last working day of a year, and a UTC evening that is already the
## next (rest) day in Beijing. `make test TEST_TODAY=2026-02-18` reproduces one date; see
## tests/pinned_clock.py. Left out: the browser test (Chromium keeps the real clock) and the
## drills, which pin their own clock or measure load and faults, not dates.
TEST_DATES ?= 2026-02-18 2026-02-28 2026-10-05 2026-12-31 2026-02-14T17:30:00Z
test-dates: install-dev
	@failed=""; for day in $(TEST_DATES); do \
	  echo "== make test-dates: the suite with TEST_TODAY=$$day"; \
	  TEST_TODAY=$$day $(BIN)/python -m pytest -q -m "not browser and not drill" || failed="$$failed $$day"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test-dates: failed at TEST_TODAY in:$$failed"; exit 1; fi; \
	echo "make test-dates: passed at every date in TEST_DATES ($(TEST_DATES))"

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Regenerate openapi/v1.yaml; tests/test_openapi.py fails when the committed file drifts.
schema: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py spectacular --api-version v1 --validate --fail-on-warn --file openapi/v1.yaml

## Re-pin both locks from the ranges in pyproject.toml, in throwaway venvs. One resolution of
## ".[dev]" pins everything; requirements.lock keeps the part that "." needs and
## requirements-dev.lock the rest, so the two never disagree on a version.
lock:
	rm -rf var/lock-venv && $(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/pip install --disable-pip-version-check -q ".[dev]"
	var/lock-venv/bin/pip freeze --exclude-editable | grep -iv '^export[-_]license[-_]tracker' > var/lock-all.txt
	rm -rf var/lock-venv && $(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/pip install --disable-pip-version-check -q . -c var/lock-all.txt
	var/lock-venv/bin/pip freeze --exclude-editable | grep -iv '^export[-_]license[-_]tracker' > var/lock-runtime.txt
	{ echo "# What the service needs: make run installs exactly these. Regenerate with: make lock"; \
	  echo "# (pyproject.toml declares the ranges; this file pins one tested set of them.)"; \
	  cat var/lock-runtime.txt; } > $(LOCK)
	{ echo "# The test, lint and client tools that make test adds. Regenerate with: make lock"; \
	  echo "-r $(LOCK)"; grep -vxF -f var/lock-runtime.txt var/lock-all.txt; } > $(DEV_LOCK)
	rm -rf var/lock-venv var/lock-all.txt var/lock-runtime.txt

## Benchmarks of issues 3 and 4 on PostgreSQL, in databases named bench* (seeded once, then
## re-used); prints one `bench: ... PASS|MISS` line per result. See tests/benchmarks/run.py.
bench: install-dev
	DATABASE_URL="$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench}" \
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m tests.benchmarks.run

clean:
	rm -rf var/ .pytest_cache
