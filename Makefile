# The two commands: `make run` (portal + worker with demo data) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
# Where `make web` listens: loopback unless the operator opens it (WEB_BIND=0.0.0.0 in a container).
WEB_BIND ?= 127.0.0.1

.PHONY: run web worker test lint bench install clean messages compilemessages

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall when the declared dependencies or the constraints change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The affiliate pages' French (locale/fr/LC_MESSAGES/django.po): `make messages` refreshes the
# catalogue from the code and templates (new strings arrive with an empty translation, which
# tests/partners/test_translations.py refuses); the .mo is built from it, never committed.
MESSAGES_IGNORE := --ignore=.venv --ignore=tests --ignore=bench --ignore=staticfiles --ignore=docs --ignore=scripts
messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l fr --no-location $(MESSAGES_IGNORE)

compilemessages: $(STAMP)
	@command -v msgfmt >/dev/null || { echo "msgfmt is needed to build the translations: apt-get install gettext"; exit 1; }
	$(BIN)/python manage.py compilemessages --ignore=.venv

run: $(STAMP) compilemessages
	@PORT=$(PORT) scripts/run.sh

# The production settings serve static files by their hashed names: collected first, or every
# HTML page would answer 500.
web: $(STAMP)
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/gunicorn config.wsgi --bind $(WEB_BIND):$(PORT) --workers $${WEB_CONCURRENCY:-2} --worker-class gthread --threads $${WEB_THREADS:-4} --access-logfile - --graceful-timeout 20

worker: $(STAMP)
	$(BIN)/python manage.py run_delivery_worker

test: $(STAMP) compilemessages
	@$(BIN)/python scripts/check_services.py
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# The bench's own extra (Celery, for baseline (e)), installed once beside the dev tools.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .run staticfiles .pytest_cache .mypy_cache .ruff_cache
