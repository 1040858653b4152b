# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
# Each creates .venv and installs what it needs on first use: the exact versions in uv.lock
# (hashes checked), by uv, itself pinned and hash-checked in requirements-uv.txt (.venv-uv).
# `make lock` re-resolves uv.lock to the newest releases; `make test-latest` runs the checks
# against the newest releases in .venv-latest, without touching uv.lock.

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
UV_VENV := .venv-uv
UV      := $(UV_VENV)/bin/uv
LATEST  := .venv-latest
# uv's project environment is $(VENV); it never downloads a Python (the venv's is $(PYTHON)),
# and it trusts the system's certificate store (as pip does), not only its built-in roots.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_SYSTEM_CERTS ?= 1

.PHONY: demo report test lint bench clean schema infra notebooks lab lock test-latest venv

AT_LEAST_311 := import sys; sys.exit(sys.version_info < (3, 11))

# A $(VENV) whose Python is older than 3.11 or no longer runs (made by another Python, or moved)
# is removed as the Makefile is read, before any target is judged up to date, and made again.
ifneq ($(wildcard $(VENV)),)
ifneq ($(shell $(BIN)/python -c '$(AT_LEAST_311)' 2>/dev/null && echo ok),ok)
$(info make: $(VENV) was made by $(shell $(BIN)/python --version 2>&1 || echo 'a Python that no longer runs'); making it again with $(PYTHON))
$(shell rm -rf $(VENV))
endif
endif

# Creates $(VENV) with $(PYTHON) (3.11 or newer).
venv:
	@$(PYTHON) -c '$(AT_LEAST_311)' 2>/dev/null || { \
	  echo "make: streamer needs Python 3.11 or newer, and $(PYTHON) is" \
	       "$$($(PYTHON) --version 2>/dev/null || echo 'not found'): run make PYTHON=python3.11 (or newer)." >&2; \
	  exit 1; }
	@if [ ! -e $(BIN)/python ]; then echo "$(PYTHON) -m venv $(VENV)"; $(PYTHON) -m venv $(VENV); fi

$(UV): requirements-uv.txt
	rm -rf $(UV_VENV)
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet --require-hashes --requirement requirements-uv.txt
	touch $@

# Each install syncs $(VENV) to uv.lock (`--locked`: a pyproject.toml edited without `uv lock`
# stops here), then stamps what $(VENV) now holds: .synced-runtime (`make demo`), .synced-dev
# (dev and analytics extras, `make test`), .synced-analytics (`make demo`, `make report`,
# `make notebooks`), .synced-lab (`make lab`). A stamp older than uv.lock or
# pyproject.toml syncs again; an exact sync removes what it did not install, and the stamps with it.
SYNC_DEPS := uv.lock pyproject.toml | venv $(UV)

$(VENV)/.synced-runtime: $(SYNC_DEPS)
	rm -f $(VENV)/.synced-* $(VENV)/.installed*
	$(UV) sync --locked --quiet
	touch $@

# The tests run the report and the notebooks, so `make test` installs the analytics extra too.
$(VENV)/.synced-dev: $(SYNC_DEPS)
	rm -f $(VENV)/.synced-* $(VENV)/.installed*
	$(UV) sync --locked --quiet --extra dev --extra analytics
	touch $@ $(VENV)/.synced-runtime $(VENV)/.synced-analytics

# The analytics extra (pandas, matplotlib, nbclient, ipykernel) on top of whatever is there
# (--inexact: a `make test` venv keeps its test tools): `make demo`, `report`, `notebooks`.
$(VENV)/.synced-analytics: $(SYNC_DEPS)
	rm -f $@
	$(UV) sync --locked --quiet --inexact --extra analytics
	touch $@ $(VENV)/.synced-runtime

# JupyterLab (the `notebooks` extra, which CI never installs) on top of whatever is there.
$(VENV)/.synced-lab: $(SYNC_DEPS)
	rm -f $@
	$(UV) sync --locked --quiet --inexact --extra analytics --extra notebooks
	touch $@ $(VENV)/.synced-analytics $(VENV)/.synced-runtime

# The demo ends with the report of its lake; the last line is the page to open.
demo: $(VENV)/.synced-analytics
	rm -rf demo-lake
	$(BIN)/streamer demo --seconds $${SECONDS_TO_RUN:-30} --lake demo-lake
	@$(MAKE) --no-print-directory report STREAMER_LAKE_DIR=demo-lake

# `streamer report` on the lake in STREAMER_LAKE_DIR (default: demo-lake) into ./report, its
# per-query progress kept in $(VENV)/report.log; the last line is the page to open.
report: $(VENV)/.synced-analytics
	rm -rf report
	@$(BIN)/streamer report --lake "$${STREAMER_LAKE_DIR:-demo-lake}" --out report \
	  2> $(VENV)/report.log || { cat $(VENV)/report.log >&2; exit 1; }
	@grep -v '^streamer report: query ' $(VENV)/report.log || true
	@echo "$(CURDIR)/report/index.html"

# Runs notebooks/*.ipynb headless on a sample lake (a minute of the simulator at 60x, in a
# temporary folder) and stores them with their outputs, for GitHub to show: commit the result.
# LAKE=dir runs them on that lake instead. tests/analytics/test_notebooks.py checks the copies.
notebooks: $(VENV)/.synced-analytics
	$(BIN)/python -m streamer.analytics.run_notebooks $(if $(LAKE),--lake $(LAKE))

# JupyterLab on the notebooks: they read the lake in STREAMER_LAKE_DIR, or Athena when
# STREAMER_ATHENA_WORKGROUP is set, or else demo-lake/ (run `make demo` first).
lab: $(VENV)/.synced-lab
	$(BIN)/jupyter lab notebooks

lint: $(VENV)/.synced-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

# uv.lock re-resolved to the newest releases that pyproject.toml allows (review, then commit it).
lock: $(UV)
	$(UV) lock --upgrade

# The same checks against the newest releases, in a throwaway $(LATEST): uv.lock is neither read
# nor written. First the packages whose version differs from the lock's; every check runs, and
# the last line names those that failed.
test-latest: $(UV)
	@$(PYTHON) -c '$(AT_LEAST_311)' || { echo "make: $(PYTHON) is older than Python 3.11" >&2; exit 1; }
	rm -rf $(LATEST)
	$(UV) venv --quiet --python $(PYTHON) $(LATEST)
	$(UV) pip install --quiet --refresh --python $(LATEST)/bin/python -e '.[dev,analytics]'
	@$(UV) export --frozen --quiet --no-hashes --no-header --no-annotate --no-emit-project \
	  --extra dev --extra analytics | sed 's/ *;.*//' > $(LATEST)/locked.txt
	@$(UV) pip freeze --quiet --python $(LATEST)/bin/python --exclude-editable > $(LATEST)/newest.txt
	@echo "make test-latest: versions other than uv.lock's:"
	@awk -F'==' 'NR == FNR { lock[$$1] = lock[$$1] " " $$2; next } \
	  !($$1 in lock) { print "  " $$0 " (not in uv.lock)"; n++; next } \
	  index(lock[$$1] " ", " " $$2 " ") == 0 { print "  " $$1 ":" lock[$$1] " -> " $$2; n++ } \
	  END { if (!n) print "  none" }' $(LATEST)/locked.txt $(LATEST)/newest.txt
	@failed=""; \
	for check in "ruff check src tests benchmarks" "ruff format --check src tests benchmarks" \
	             "mypy" "pytest -q"; do \
	  echo "$(LATEST)/bin/$$check"; $(LATEST)/bin/$$check || failed="$$failed, $$check"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test-latest: failed on the newest releases: $${failed#, }" >&2; exit 1; fi; \
	echo "make test-latest: every check passed on the newest releases"

bench: $(VENV)/.synced-dev
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
	       "../shared/tools/terraform/tf (beside the checkout) or a terraform >= 1.9 binary on PATH" \
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

schema: $(VENV)/.synced-runtime
	$(BIN)/python -m streamer.glue > infra/terraform/schema.json

clean:
	rm -rf $(VENV) $(UV_VENV) $(LATEST) .venv-checkov demo-lake data report .pytest_cache .mypy_cache .ruff_cache
