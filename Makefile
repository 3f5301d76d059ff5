# The two commands of the README, each doing its own set-up in .venv:
#   make reproduce   -- the whole paper at quick scale (Snakemake workflow)
#   make test        -- the test suite CI runs
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SCALE ?= quick
CORES ?= all

.PHONY: setup test test-fast test-cluster reproduce publish report bench gpu-check estimate lint clean

setup: $(STAMP)

# -qq: errors only (a package index may print one warning per package it does not hold)
$(STAMP): PIP = $(BIN)/python -m pip -qq --disable-pip-version-check
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not cluster"

test-cluster: $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -r requirements/slurm.txt
	timeout -k 30 900 $(BIN)/python -m pytest -m cluster tests/cluster --durations=0

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not cluster and not slow"

# The terminal of `make reproduce` shows one `N of M steps (x%) done` line per job, what the
# workflow repairs, and every error (a failed job's block names its log, whose first line is the
# command that reruns it). It leaves out the lines that match HIDDEN (one grep pattern a line:
# each job's block, the scheduler's rounds, the job table, notes on the set-up); Snakemake's own
# log, named on the last line (.snakemake/log/), keeps them all. `make reproduce HIDDEN=` shows all.
define HIDDEN
\[.*\]
(local)?rule \w+:
    (input|output|jobid|wildcards|resources|threads): .*
    log: .*[^)]
Finished jobid: .*
Select jobs to execute\.\.\.
Execute [0-9]+ jobs\.\.\.
Job stats:
job +count
-+ +-+
\w+ +[0-9]+
Using shell: .*
Rules claiming more threads .*
Conda environments: ignored
Assuming unrestricted shared filesystem usage\.
Config file .* is extended .*
endef
export HIDDEN
# Progress: one line per 5 % of the jobs (and the last), whatever the number of jobs.
PROGRESS = $(BIN)/python -u workflow/scripts/progress.py
REPRODUCE = $(BIN)/snakemake --profile workflow/profiles/default --config scale=$(SCALE) --cores $(CORES)
reproduce: SHELL := /bin/bash
reproduce: .SHELLFLAGS := -o pipefail -c
reproduce: $(STAMP)
	@echo "$(REPRODUCE)"
	@$(REPRODUCE) 2>&1 | { grep --line-buffered -Exv -e '' -f <(echo "$$HIDDEN") || true; } | $(PROGRESS)

# docs/SCALE/: the report, figures (PNG, PDF) and derived tables (CSV, MD, TeX) of results/SCALE,
# only when the workflow has nothing left to do there; replaced as a whole (no partial copy).
PUBLISHED = docs/$(SCALE)
publish: SHELL := /bin/bash
publish: $(STAMP)
	@$(BIN)/snakemake --profile workflow/profiles/default --config scale=$(SCALE) -n 2>&1 \
	  | grep -q "Nothing to be done" || { echo "publish: results/$(SCALE) is not up to date with the workflow: run make reproduce SCALE=$(SCALE) first" >&2; exit 2; }
	rm -rf $(PUBLISHED).tmp && mkdir -p $(PUBLISHED).tmp/figures $(PUBLISHED).tmp/tables
	cp results/$(SCALE)/REPORT.md $(PUBLISHED).tmp/
	cp results/$(SCALE)/figures/*.png results/$(SCALE)/figures/*.pdf $(PUBLISHED).tmp/figures/
	for table in results/$(SCALE)/tables/*.md; do cp $${table%.md}.{csv,md,tex} $(PUBLISHED).tmp/tables/; done
	rm -rf $(PUBLISHED) && mv $(PUBLISHED).tmp $(PUBLISHED)
	@echo "published results/$(SCALE) in $(PUBLISHED)/"

report: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/default --config scale=$(SCALE) --report results/$(SCALE)/report.html

bench: $(STAMP)
	$(BIN)/python benchmarks/run_benchmark.py --readme README.md

# On a GPU machine, one go: the CUDA tests, seeds as one program on CUDA, the engine benchmark on
# CUDA (float32 and TF32) beside this repository's CPU figures. Writes results/benchmarks/cuda-*.
CPU_BASELINE ?= results/benchmarks/cpu-2c-intel-xeon.json
gpu-check: $(STAMP)
	$(BIN)/python -m pytest -q -m gpu tests/test_gpu.py
	$(BIN)/python benchmarks/seed_programs.py --device cuda
	$(BIN)/python benchmarks/run_benchmark.py --device cuda --skip-large --cpu-baseline $(CPU_BASELINE)

# runs, flops and wall time of SCALE on this machine, per plan (CORES=all: every core)
estimate: $(STAMP)
	$(BIN)/python -m giantstep.reproduce.estimate --scale $(SCALE) $(if $(filter-out all,$(CORES)),--cores $(CORES))

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --config scale=$(SCALE)

clean:
	rm -rf $(VENV) .snakemake
