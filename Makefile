# The two commands a new user runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench reliability clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt sdk/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap_demo --base-url http://$(HOST):$(PORT)
	$(PY) manage.py generate_traffic --environment demo/website/development --visitors 250 --days 30 --if-empty
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# The benchmark reaches gunicorn over plain HTTP on loopback: no HTTPS redirect there.
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

# Faults and hostile input against the production setup on loopback (needs
# PostgreSQL's server programs, redis-server and nginx installed; see README).
reliability: install
	$(PY) reliability/run.py

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
