# The two commands of the README: `make run` and `make test`. Each prepares what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test lint bench bench-web install install-dev assets debs-runtime debs-test clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Bootstrap comes from the npm registry and is served by the application itself (no CDN).
static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor/bootstrap
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map \
		node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map \
		static/vendor/bootstrap/
	touch $@

assets: static/vendor/.installed

# Debian packages, installed when missing: pango and harfbuzz-subset for the PDFs (WeasyPrint),
# and chromium for the end-to-end tests (Playwright never downloads a browser here).
RUNTIME_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
TEST_DEBS := chromium
define apt_ensure
	@dpkg -s $(1) >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); }
endef

debs-runtime:
	$(call apt_ensure,$(RUNTIME_DEBS))

debs-test:
	$(call apt_ensure,$(TEST_DEBS))

install: $(VENV)/.installed static/vendor/.installed debs-runtime

install-dev: $(VENV)/.installed-dev

## Create .venv, install, migrate (which loads the default rule set) and serve on http://$(HOST):$(PORT),
## with a task worker beside the server (the re-evaluation after a publish), stopped with it
# The worker gets SIGTERM twice: the first stops it between tasks, the second within one (a
# re-evaluation cut short is marked stopped and offered for resuming on the version's page).
run: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py ensure_admin
	$(PY) manage.py db_worker --no-reload --interval 1 & worker=$$!; \
	stop() { kill -TERM $$worker 2>/dev/null && sleep 1 && kill -TERM $$worker 2>/dev/null; wait $$worker; }; \
	trap 'stop; exit 0' INT TERM; trap stop EXIT; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# `make serve`: production settings behind gunicorn. Each of these can be set in the environment.
BIND ?= 127.0.0.1:8000
GUNICORN_WORKERS ?= $(shell echo $$(( 2 * $$(nproc) + 1 )))
# Seconds a request may take (no page works for longer: publishing re-evaluates in a task worker).
GUNICORN_TIMEOUT ?= 120

## Production settings (DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL from the environment):
## migrate, collect the static files, then serve with gunicorn on $(BIND). Task workers run apart,
## on this machine or others: `manage.py db_worker` with the same settings (README, Deploying)
serve: export DJANGO_SETTINGS_MODULE := config.settings.production
serve: install
	@test -n "$${DJANGO_SECRET_KEY:-}" -a -n "$${DJANGO_ALLOWED_HOSTS:-}" || { \
		echo "make serve: set DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS (README, Deploying)" >&2; exit 2; }
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	exec $(VENV)/bin/gunicorn config.wsgi --bind $(BIND) --workers $(GUNICORN_WORKERS) \
		--timeout $(GUNICORN_TIMEOUT) --access-logfile -

## The whole test suite (SQLite unless DATABASE_URL is set)
test: install-dev assets debs-runtime debs-test
	$(PY) -m ruff check .
	$(PY) manage.py makemigrations --check --dry-run --settings=config.settings.test
	DJANGO_SETTINGS_MODULE=config.settings.production DJANGO_ALLOWED_HOSTS=example.org \
		DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
		$(PY) manage.py check --deploy --fail-level WARNING
	$(PY) -m pytest

lint: install-dev
	$(PY) -m ruff check .

## Throughput of `evaluate --jsonl --format json` and the engine's cost per case
bench: install-dev
	$(PY) bench/bench_evaluate.py
	$(PY) bench/bench_rulesets.py

# wrk, the HTTP load generator of the web benchmark (Debian package), installed when missing.
BENCH_DEBS := wrk
BENCH_WEB_ARGS ?=

## Pages under gunicorn (production settings, 2 workers) as a share of /hello/, and the list pages
## at 1,000 and 10,000 open assessments, and a load run at 64 connections; on SQLite, and on PostgreSQL too when DATABASE_URL is set
bench-web: install-dev assets
	$(call apt_ensure,$(BENCH_DEBS))
	$(PY) bench/bench_web.py $(BENCH_WEB_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .hypothesis node_modules static/vendor
