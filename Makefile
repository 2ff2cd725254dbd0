# Two commands on a fresh machine:  `make demo`  and  `make test`  (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo lab test test-fast lint browser-deps bench clean

$(STAMP): pyproject.toml
	@# Debian's own python3 needs python3-venv for this; install it when we can.
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV) && [ "$$(id -u)" = 0 ] && apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

## Execute every notebook in notebooks/ in a real kernel (offline demo server unless HAOEE_API_KEY is set).
demo: $(STAMP)
	$(PY) scripts/run_notebooks.py notebooks/*.ipynb

## Open JupyterLab on the notebooks.
lab: $(STAMP)
	$(PY) -m jupyterlab notebooks/

## Debian's Chromium for the browser tests (Playwright never downloads a browser here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' (browser tests will skip locally)"; fi; }

## Everything: unit, magic, notebook, offline-server, SDK and browser tests.
test: $(STAMP) browser-deps lint
	$(PY) -m pytest -q

## ruff (lint and format) and mypy (strict for the client layer).
lint: $(STAMP)
	$(VENV)/bin/ruff check haoee_jupyter tests bench scripts
	$(VENV)/bin/ruff format --check haoee_jupyter tests bench scripts
	$(VENV)/bin/mypy

## Without the browser.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not browser"

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build test-artifacts .pytest_cache
