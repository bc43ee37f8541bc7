# Two commands do all set-up on a fresh machine (Debian bookworm as root, like CI):
#   make app    creates .venv, installs llamaprof and what the app needs (no test tools),
#               runs the app on http://localhost:8501
#   make test   also installs the test tools (pytest, Playwright, the CPU llama-server, ...),
#               Debian's chromium for the browser tests and Debian's Nsight Systems 2022.4.2
#               for the capture tests when they are missing, then checks the code (ruff,
#               mypy) and runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# An install is redone when pyproject.toml changes.
HASH := $(shell cksum < pyproject.toml | cut -d' ' -f1)
APP_STAMP := $(VENV)/.installed-app-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)

.PHONY: app test lint bench setup

$(APP_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "cannot create $(VENV): on Debian, apt-get install -y python3-venv" >&2; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	rm -f $(VENV)/.installed-app-* && touch $@

$(TEST_STAMP): $(APP_STAMP)
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-test-* && touch $@

setup: $(TEST_STAMP)

app: $(APP_STAMP)
	$(BIN)/streamlit run streamlit_app.py

test: $(TEST_STAMP)
	scripts/ensure-chromium
	scripts/ensure-nsys
	$(BIN)/ruff check llamaprof app_pages tests scripts streamlit_app.py
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check llamaprof app_pages tests scripts streamlit_app.py
	$(BIN)/mypy

bench: $(APP_STAMP)
	$(BIN)/python scripts/bench_read.py
