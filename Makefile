# Quick start: `make demo` and `make test` on a machine with only python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BASE := $(VENV)/.installed-base
TEST := $(VENV)/.installed-test
EXAMPLES := $(VENV)/.installed-examples

.PHONY: demo test lint bench clean

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(BASE)

$(TEST): $(BASE)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(TEST)

$(EXAMPLES): $(BASE)
	$(PY) -m pip install --quiet -e '.[examples]'
	touch $(EXAMPLES)

# The autograd tour (graphs, gradients, the tutorials' examples), then a CNN trained on real
# handwritten digits (progress bars, test accuracy, PNGs of the curves and predictions).
demo: $(EXAMPLES)
	$(PY) -m fluxion.demo
	$(PY) -m fluxion.examples.digits --out digits_out

lint: $(TEST)
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/ruff format --check src tests benchmarks tools

test: lint
	$(PY) -m pytest -q -n 2

bench: $(TEST)
	$(PY) -m benchmarks --against torch

clean:
	rm -rf $(VENV) build src/*.egg-info digits_out
