# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean schema infra notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests run the report and the notebooks, so `make test` installs the analytics extra too.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,analytics]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-analytics

$(VENV)/.installed-analytics: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[analytics]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	rm -rf demo-lake
	$(BIN)/streamer demo --seconds $${SECONDS_TO_RUN:-30} --lake demo-lake

# JupyterLab on the notebooks, reading the lake in STREAMER_LAKE_DIR (default: demo-lake, so
# run `make demo` first) or Athena when STREAMER_ATHENA_WORKGROUP is set.
notebooks: $(VENV)/.installed-analytics
	$(BIN)/python -m pip install --quiet 'jupyterlab>=4.2'
	STREAMER_LAKE_DIR=$${STREAMER_LAKE_DIR:-$(CURDIR)/demo-lake} $(BIN)/jupyter lab notebooks

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/firehose.py
	$(BIN)/python benchmarks/vs_cryptofeed.py
	$(BIN)/python benchmarks/market.py
	$(BIN)/python benchmarks/books.py
	$(BIN)/python benchmarks/outage.py
	$(BIN)/python benchmarks/compaction.py
	$(BIN)/python benchmarks/report.py

# Terraform checks: the offline tool beside the checkout if present (../shared/tools/terraform/tf:
# real Terraform core against the aws provider schema, no downloads), else a terraform binary.
TF      ?= $(firstword $(wildcard ../shared/tools/terraform/tf))
CHECKOV := .venv-checkov/bin/checkov

$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --upgrade pip
	.venv-checkov/bin/python -m pip install --quiet 'checkov==3.3.30'

infra: $(CHECKOV)
	@if [ -n "$(TF)" ]; then \
	  $(TF) fmt infra/terraform && $(TF) validate infra/terraform && $(TF) test infra/terraform; \
	elif command -v terraform >/dev/null 2>&1; then \
	  terraform -chdir=infra/terraform fmt -check -recursive && \
	  terraform -chdir=infra/terraform init -backend=false -input=false >/dev/null && \
	  terraform -chdir=infra/terraform validate && \
	  terraform -chdir=infra/terraform test; \
	else \
	  echo "make infra: no Terraform found. It needs either the offline runner at" \
	       "../shared/tools/terraform/tf (beside the checkout) or a terraform >= 1.6 binary on PATH" \
	       "(https://developer.hashicorp.com/terraform/install), or set TF=/path/to/tf." >&2; \
	  exit 1; \
	fi
	$(CHECKOV) -d infra/terraform --framework terraform --skip-download --compact --quiet

# The image built and run for real (tests/container/check.py; needs a Docker engine, skips loudly
# without one): read-only, non-root, healthy, rows in its lake, SIGTERM exits 0; then the compose
# stack until Firehose (emulated) writes objects to the bucket.
.PHONY: container
container:
	$(PYTHON) tests/container/check.py

schema: $(VENV)/.installed
	$(BIN)/python -m streamer.glue > infra/terraform/schema.json

clean:
	rm -rf $(VENV) .venv-checkov demo-lake data report .pytest_cache .mypy_cache .ruff_cache
