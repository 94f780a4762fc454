# Atlas des PTCE — two commands: `make run` and `make test`.
# Both set everything up on a fresh machine: virtualenv, pinned dependencies,
# boundary cache (rebuilt only when its source or code changed).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
STAMP  := $(VENV)/.requirements.txt
PIP    := $(PY) -m pip --disable-pip-version-check

.PHONY: setup run test test-fast bench lint boundaries database reference system-packages clean

setup: $(STAMP) boundaries

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever requirements.txt changes (the stamp is a copy of it).
$(STAMP): requirements.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	cp requirements.txt $(STAMP)

# `geo build` checks the manifest itself and returns at once when up to date.
boundaries: $(STAMP)
	$(PY) -m geo build

# Create or upgrade the database (DATABASE_URL, default data/atlas.sqlite);
# an empty database gets the demo data ("données de démonstration").
database: $(STAMP)
	$(PY) -m lib.io.cli init --demo

# The app starts even when the boundaries cannot be built: it then says why.
run: $(STAMP) database
	-$(PY) -m geo build
	$(PY) -m streamlit run app.py --server.port $(PORT)

test: setup system-packages
	$(PY) -m pytest

# Everything but the real-browser tests.
test-fast: setup system-packages
	$(PY) -m pytest -m "not browser"

bench: setup
	@for b in $(filter-out bench/__init__.py bench/stclient.py,$(wildcard bench/*.py)); do \
		m=$$(basename $$b .py); echo "== bench.$$m"; $(PY) -m bench.$$m || exit 1; done

# Style, architecture (import contracts of pyproject.toml) and types.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check lib geo
	$(VENV)/bin/lint-imports
	$(PY) -m mypy
	$(PY) -m scripts.sizes

# Regenerate data/reference/ from the npm package (needs npm).
reference: $(STAMP)
	$(PY) -m geo reference

# Debian packages the tests need, installed once when missing: chromium for
# the browser tests (never `playwright install`), postgresql because the
# storage tests also run on a throw-away PostgreSQL server (tests/pg.py; or
# TEST_POSTGRES_URL=postgresql+psycopg://… pointing to an existing one).
system-packages:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "Installation des paquets Debian :$$missing"; \
		apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	fi

clean:
	rm -rf data/cache .pytest_cache .ruff_cache
