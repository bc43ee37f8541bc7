# Two commands do all set-up on a fresh machine:
#   make app    creates .venv, installs llamaprof, runs the app on http://localhost:8501
#   make test   creates .venv, installs llamaprof with its test tools (and Debian's
#               chromium for the browser tests when it is missing), runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: app test lint bench setup

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

app: $(STAMP)
	$(BIN)/streamlit run streamlit_app.py

test: $(STAMP)
	scripts/ensure-chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check llamaprof app_pages tests scripts streamlit_app.py

bench: $(STAMP)
	$(BIN)/python scripts/bench_read.py
