# The two commands of the README, each doing its own set-up in .venv:
#   make reproduce   -- the whole paper at quick scale (Snakemake workflow)
#   make test        -- the test suite CI runs
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SCALE ?= quick
CORES ?= all

.PHONY: setup test test-fast test-cluster reproduce report bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not cluster"

test-cluster: $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -r requirements/slurm.txt
	timeout -k 30 900 $(BIN)/python -m pytest -m cluster tests/cluster --durations=0

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not cluster and not slow"

reproduce: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/default --config scale=$(SCALE) --cores $(CORES)

report: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/default --config scale=$(SCALE) --report results/$(SCALE)/report.html

bench: $(STAMP)
	$(BIN)/python benchmarks/run_benchmark.py --readme README.md

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --config scale=$(SCALE)

clean:
	rm -rf $(VENV) .snakemake
