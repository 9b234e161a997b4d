# Two commands for a new machine (see README.md):
#   make book   set up .venv, make sure the data is there, run the study, build the book
#   make test   unit + integration tests, a clean strict book build, checks of the built HTML
#               (static checks, and headless Chromium: images, math, console errors, screenshots)
#   make pdf    the whole book as one PDF, _build/pdf/ytlstm.pdf (after `make book`)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= $(or $(YTLSTM_DATA_DIR),data/raw)
# The book runs the study on every one of these countries (ytlstm.outputs.BOOK_COUNTRIES).
COUNTRIES ?= US GB
export YTLSTM_DATA_DIR := $(abspath $(DATA_DIR))
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONHASHSEED := 0
export TF_ENABLE_ONEDNN_OPTS := 0

MATHJAX := _build/mathjax/html/_static/mathjax/tex-mml-chtml.js
AXE := _build/axe/axe.min.js
CFFCONVERT := _build/tools/cffconvert/bin/cffconvert

.PHONY: book test unit integration book-strict book-check data results bench clean distclean \
	mathjax axe cffconvert browser-deps pdf publish

book: $(STAMP) data results mathjax
	$(PY) -m ytlstm book

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e ".[book,test]"
	touch $@

data: $(STAMP)
	for c in $(COUNTRIES); do \
		$(PY) -m ytlstm download --if-missing --country $$c --data-dir "$(YTLSTM_DATA_DIR)"; done

results: $(STAMP) data
	for c in $(COUNTRIES); do $(PY) -m ytlstm run --country $$c; done

test: $(STAMP) data unit integration book-strict book-check

unit: $(STAMP)
	$(PY) -m pytest -q -m "not integration and not book and not pdf"

integration: $(STAMP) data
	$(PY) -m pytest -q -m integration

# A clean build of the book (execution cache and HTML removed; the study's result cache is
# kept, see README), with Sphinx warnings as errors.
book-strict: $(STAMP) data results mathjax
	rm -rf _build/html _build/.doctrees _build/.jupyter_cache
	$(PY) -m ytlstm book --strict

book-check: $(STAMP) browser-deps axe cffconvert
	$(PY) -m pytest -q -m book

# MathJax 3 from the npm registry (version and checksum in tools/mathjax/package-lock.json),
# copied where html_extra_path (in _config.yml) puts it into the book: pages need no CDN.
mathjax: $(MATHJAX)

$(MATHJAX): tools/mathjax/package.json tools/mathjax/package-lock.json
	@command -v npm >/dev/null || { echo "make mathjax: npm not found; install Node.js with npm (Debian: apt-get install -y npm)" >&2; exit 1; }
	rm -rf _build/mathjax
	mkdir -p _build/mathjax/npm $(@D)
	cp tools/mathjax/package.json tools/mathjax/package-lock.json _build/mathjax/npm/
	cd _build/mathjax/npm && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	cd _build/mathjax/npm/node_modules/mathjax && \
		cp -r LICENSE es5/tex-mml-chtml.js es5/input es5/output es5/ui es5/a11y es5/sre "$(CURDIR)/$(@D)/"
	touch $@

# axe-core (version and checksum in tools/axe/package-lock.json): the browser checks inject it
# into every page (tools/browser.py); it is never part of the book.
axe: $(AXE)

$(AXE): tools/axe/package.json tools/axe/package-lock.json
	@command -v npm >/dev/null || { echo "make axe: npm not found; install Node.js with npm (Debian: apt-get install -y npm)" >&2; exit 1; }
	rm -rf _build/axe
	mkdir -p _build/axe/npm
	cp tools/axe/package.json tools/axe/package-lock.json _build/axe/npm/
	cd _build/axe/npm && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	cp _build/axe/npm/node_modules/axe-core/axe.min.js _build/axe/npm/node_modules/axe-core/LICENSE $(@D)/
	touch $@

# cffconvert, which validates CITATION.cff in the book checks, in a venv of its own: it needs
# jsonschema 3, the book's environment has 4 (pins in tools/cffconvert/requirements.txt).
cffconvert: $(CFFCONVERT)

$(CFFCONVERT): tools/cffconvert/requirements.txt
	rm -rf _build/tools/cffconvert
	$(PYTHON) -m venv _build/tools/cffconvert
	_build/tools/cffconvert/bin/pip install --quiet --no-deps -r tools/cffconvert/requirements.txt
	touch $@

# Debian's Chromium and ChromeDriver for the browser checks and the PDF, installed when
# missing (needs root and apt-get, as on CI); anywhere else this fails and says what to install.
browser-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "browser-deps: installing Debian's chromium and chromium-driver"; \
		log=$$(mktemp); \
		if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver; } >"$$log" 2>&1; then cat "$$log" >&2; exit 1; fi; \
		rm -f "$$log"; \
	else \
		echo "browser-deps: /usr/bin/chromium or /usr/bin/chromedriver is missing and this is not" \
			"root with apt-get: install Debian's chromium and chromium-driver" \
			"(sudo apt-get install chromium chromium-driver)" >&2; exit 1; \
	fi

# The whole book as one PDF: a single-page HTML build (_build/singlehtml, sharing the
# execution cache with `make book`) printed by headless Chromium, then checked (page count,
# every chapter title, figures, bibliography). See tools/pdf.py.
pdf: $(STAMP) data results mathjax browser-deps
	$(PY) tools/pdf.py

# Publish the book: build it (if needed), run the static checks of the built HTML (every
# `book` test but the headless-Chromium ones of tests/test_browser.py, which `make test`
# runs), then push _build/html, with .nojekyll, to the gh-pages branch of REMOTE (a remote's
# name, URL or path) with ghp-import. See tools/publish.py and the README.
REMOTE ?= origin

publish: book cffconvert
	$(PY) -m pytest -q -m book --ignore=tests/test_browser.py
	$(PY) tools/publish.py --remote "$(REMOTE)"

# Timings of the book build and of training (not part of `make test`); see benchmarks/run.py.
bench: $(STAMP) data
	$(PY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV)
