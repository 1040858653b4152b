# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean schema

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	rm -rf demo-lake
	$(BIN)/streamer demo --seconds $${SECONDS_TO_RUN:-30} --lake demo-lake

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/firehose.py

schema: $(VENV)/.installed
	$(BIN)/python -m streamer.schema > infra/terraform/schema.json

clean:
	rm -rf $(VENV) demo-lake data .pytest_cache .mypy_cache .ruff_cache
