# Two commands on a fresh machine:  `make demo`  and  `make test`  (see README.md).
# Each installs what it needs into .venv the first time, and nothing the second time (a stamp
# per extra, renewed when pyproject.toml changes).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# -qq: pip's own errors still show; its progress and notes would drown the steps echoed here.
PIP    := $(PY) -m pip --disable-pip-version-check -qq
DEMO_STAMP := $(VENV)/.installed-demo
LAB_STAMP  := $(VENV)/.installed-lab
TEST_STAMP := $(VENV)/.installed-test

.PHONY: setup demo lab test test-fast lint browser-deps bench clean

$(PY):
	@echo "==> Creating the virtual environment $(VENV)"
	@# Debian's own python3 needs python3-venv for this; install it when we can.
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV) && [ "$$(id -u)" = 0 ] \
	  && echo "==> Installing python3-venv (apt-get)" && apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv \
	  && $(PYTHON) -m venv $(VENV); }
	@echo "==> Upgrading pip"
	@$(PIP) install --upgrade pip

# test includes lab, and lab includes demo: installing one renews the stamps it covers.
$(DEMO_STAMP): pyproject.toml | $(PY)
	@echo "==> Installing haoee-jupyter with what runs the notebooks (ipykernel, nbclient, nbformat, pandas)"
	@$(PIP) install -e '.[demo]'
	@touch $(DEMO_STAMP)

$(LAB_STAMP): pyproject.toml | $(PY)
	@echo "==> Installing haoee-jupyter with JupyterLab"
	@$(PIP) install -e '.[lab]'
	@touch $(DEMO_STAMP) $(LAB_STAMP)

$(TEST_STAMP): pyproject.toml | $(PY)
	@echo "==> Installing haoee-jupyter with the test tools (pytest, Playwright, the openai SDK, LiteLLM, ruff, mypy, JupyterLab)"
	@$(PIP) install -e '.[test]'
	@touch $(DEMO_STAMP) $(LAB_STAMP) $(TEST_STAMP)

setup: $(TEST_STAMP)

## Execute every notebook in notebooks/ in a real kernel (offline demo server unless HAOEE_API_KEY is set).
demo: $(DEMO_STAMP)
	@echo "==> Running the notebooks"
	$(PY) scripts/run_notebooks.py notebooks/*.ipynb

## Run the notebooks, then open JupyterLab on the executed copies (build/notebooks/), so every
## answer is already there; the clean originals stay in notebooks/.
lab: $(LAB_STAMP) demo
	@echo "==> Opening JupyterLab on build/notebooks/ (the executed copies; notebooks/ holds the originals)"
	$(PY) -m jupyterlab build/notebooks/

## Debian's Chromium for the browser tests (Playwright never downloads a browser here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then echo "==> Installing Chromium for the browser tests (apt-get)" && apt-get update -qq \
	    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' (browser tests will skip locally)"; fi; }

## Everything: lint, then unit, magic, notebook, offline-server, SDK, relay and browser tests.
test: lint browser-deps
	$(PY) -m pytest -q

## ruff (lint and format) and mypy (strict for the client layer).
lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check haoee_jupyter tests bench scripts
	$(VENV)/bin/ruff format --check haoee_jupyter tests bench scripts
	$(VENV)/bin/mypy

## Without the browser.
test-fast: $(TEST_STAMP)
	$(PY) -m pytest -q -m "not browser"

## Every bench/bench_*.py, each printing ratios measured in one run.
bench: $(TEST_STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build test-artifacts .pytest_cache
