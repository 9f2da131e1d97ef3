# Siaga Edge — every set-up step lives here, so a fresh Debian machine needs only
#   make demo    (see the daemon raise alerts against a local broker)
#   make test    (every check)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_FLAGS ?=

.PHONY: all demo test test-faults lint typecheck unit bench schema ensure-mosquitto clean

all: test

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && \
	    $(PYTHON) -m venv $(VENV); \
	  else echo "python3-venv is missing: run  sudo apt-get install -y python3-venv" >&2; exit 1; fi; }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

ensure-mosquitto:
	@if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing mosquitto (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto; \
	  else echo "mosquitto is missing: run  sudo apt-get install -y mosquitto" >&2; exit 1; fi; \
	fi

demo: $(STAMP) ensure-mosquitto
	$(BIN)/siaga-edge demo

lint: $(STAMP)
	$(BIN)/ruff check edge tests bench
	$(BIN)/ruff format --check edge tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict edge

unit: $(STAMP) ensure-mosquitto
	$(BIN)/pytest -m "not faults" -n 2 $(PYTEST_FLAGS)

test: lint typecheck unit

test-faults: $(STAMP) ensure-mosquitto
	$(BIN)/pytest -m faults $(PYTEST_FLAGS)

bench: $(STAMP) ensure-mosquitto
	$(BIN)/python bench/run_all.py

schema: $(STAMP)
	$(BIN)/siaga-edge schema --write docs/schema

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
