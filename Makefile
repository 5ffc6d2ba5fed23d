# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
INSTALLED := $(VENV)/.installed-$(shell cksum requirements.lock | cut -d' ' -f1)

.PHONY: install run test browser lint format schema lock bench clean

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
