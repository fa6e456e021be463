# ecgap: `make run` runs the workflow on the embedded simulated study; `make test` runs
# the test suite. Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
CORES ?= all
CONFIG ?= config/config.yaml

.PHONY: setup run report test lint dryrun power bench calibrate resources clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)

# The self-contained HTML report of a finished run (brings the results up to date first).
report: run
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.html

dryrun: setup
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --dry-run

test: setup
	$(BIN)/python -m pytest tests

# How often the simulated paper-size study reproduces each of the paper's behavioural
# decisions (SEEDS simulated studies; about 0.5 s each). Not part of the test suite.
SEEDS ?= 100
power: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.power --config config/paper.yaml --seeds $(SEEDS)

# Benchmarks (not part of the test suite): writes results/bench/summary.{tsv,md}.
# BENCH_ARGS picks sections or a scratch folder, e.g. BENCH_ARGS="--sections naive".
BENCH_ARGS ?=
bench: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.bench all --out results/bench $(BENCH_ARGS)

# FWE calibration of the group-level inference on DATASETS null data sets (about 1 s
# each; not part of the test suite). Prints rejection rates with 95 % intervals.
DATASETS ?= 200
ENGINE ?= ecgap
calibrate: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.calibrate --datasets $(DATASETS) --engine $(ENGINE)

# SLURM set-resources per rule from a finished run's benchmark files (for profiles/slurm).
resources: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.resources results/benchmarks

lint: setup
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
