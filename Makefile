# Two commands for a new machine (see README.md):
#   make book   set up .venv, make sure the data is there, run the study, build the book
#   make test   unit + integration tests, a clean strict book build, checks of the built HTML
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= $(or $(YTLSTM_DATA_DIR),data/raw)
COUNTRY ?= US
export YTLSTM_DATA_DIR := $(abspath $(DATA_DIR))
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONHASHSEED := 0
export TF_ENABLE_ONEDNN_OPTS := 0

.PHONY: book test unit integration book-strict book-check data results bench clean distclean

book: $(STAMP) data results
	$(PY) -m ytlstm book

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[book,test]"
	touch $@

data: $(STAMP)
	$(PY) -m ytlstm download --if-missing --country $(COUNTRY) --data-dir "$(YTLSTM_DATA_DIR)"

results: $(STAMP) data
	$(PY) -m ytlstm run --country $(COUNTRY)

test: $(STAMP) data unit integration book-strict book-check

unit: $(STAMP)
	$(PY) -m pytest -q -m "not integration and not book"

integration: $(STAMP) data
	$(PY) -m pytest -q -m integration

# A clean build of the book (execution cache and HTML removed; the study's result cache is
# kept, see README), with Sphinx warnings as errors.
book-strict: $(STAMP) data results
	rm -rf _build/html _build/.jupyter_cache
	$(PY) -m ytlstm book --strict

book-check: $(STAMP)
	$(PY) -m pytest -q -m book

# Timings of the book build and of training (not part of `make test`); see benchmarks/run.py.
bench: $(STAMP) data
	$(PY) benchmarks/run.py

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV)
