# Atlas des PTCE — two commands: `make run` and `make test`.
# Both set everything up on a fresh machine: virtualenv, pinned dependencies,
# boundary cache (rebuilt only when its source or code changed).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
STAMP  := $(VENV)/.requirements.txt
PIP    := $(PY) -m pip --disable-pip-version-check

.PHONY: setup run test test-fast bench lint boundaries database reference chromium clean

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
	$(PY) -m lib.data init --demo

# The app starts even when the boundaries cannot be built: it then says why.
run: $(STAMP) database
	-$(PY) -m geo build
	$(PY) -m streamlit run app.py --server.port $(PORT)

test: setup chromium
	$(PY) -m pytest

# Everything but the real-browser tests.
test-fast: setup
	$(PY) -m pytest -m "not browser"

bench: setup
	@for b in $(filter-out bench/__init__.py,$(wildcard bench/*.py)); do \
		m=$$(basename $$b .py); echo "== bench.$$m"; $(PY) -m bench.$$m || exit 1; done

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check lib geo

# Regenerate data/reference/ from the npm package (needs npm).
reference: $(STAMP)
	$(PY) -m geo reference

# Browser tests drive Debian's chromium (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installation de chromium (Debian)…"; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf data/cache .pytest_cache .ruff_cache
