# Two commands for a new user: `make run` (demo on an embedded PostgreSQL, Celery eager) and `make test`
# (ruff, mypy, import-linter and pytest against the real PostgreSQL and Redis).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint bench worker topology install clean browsers requirements

$(STAMP): requirements/base.txt requirements/dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found (set PYTHON=python3)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

# migrate, seed_demo and runserver against the embedded PostgreSQL in var/pgdata (started here,
# stopped when runserver ends, Ctrl-C included); a DATABASE_URL in the environment wins.
run: $(STAMP)
	env -u CELERY_BROKER_URL $(PY) -m config.embedded_db

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy apps config
	$(VENV)/bin/lint-imports

test: lint
	scripts/ensure-services
	scripts/ensure-browser
	$(VENV)/bin/pytest -n auto $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating as a failure" >&2; exit 1; fi; exit $$rc

bench: $(STAMP)
	scripts/ensure-services
	$(PY) benchmarks/run_all.py

worker: $(STAMP)
	$(VENV)/bin/celery -A config worker -l info -Q default,notices,bulk

# The production topology on one machine: gunicorn (threads, pooled connections), one Celery
# worker per queue (notices, bulk, default) and beat, under honcho (Procfile).
topology: $(STAMP)
	scripts/ensure-services
	scripts/topology

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

# Recompile the hashed pins after editing requirements/*.in (existing pins are kept; add
# --upgrade-package NAME to move one). Installs use --require-hashes, so every pin needs hashes.
requirements: $(STAMP)
	cd requirements && ../$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url -o base.txt base.in
	cd requirements && ../$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url -o dev.txt dev.in
