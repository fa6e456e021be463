# ecgap: `make run` runs the workflow on the embedded simulated study; `make test` runs
# the test suite. Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
CORES ?= all
CONFIG ?= config/config.yaml
# The Snakefile loads config/config.yaml itself: pass --configfile only for another one.
CONFIG_ARG = $(if $(filter-out config/config.yaml,$(CONFIG)),--configfile $(CONFIG))

.PHONY: setup run report test lint dryrun power bench calibrate recovery efficiency resources clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "ecgap: installing the pinned requirements into $(VENV) (first run only, a few minutes)"
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

# The whole workflow, then its self-contained HTML report (Snakemake builds a report
# from finished results only, so it is a second call).
run: setup
	$(BIN)/snakemake --cores $(CORES) $(CONFIG_ARG)
	$(BIN)/snakemake --cores $(CORES) $(CONFIG_ARG) --report results/report.html
	@echo "ecgap: done. Results in results/ (a BIDS derivative dataset), the report in results/report.html, the methods text in results/methods.md."

report: run

dryrun: setup
	$(BIN)/snakemake --cores $(CORES) $(CONFIG_ARG) --dry-run

test: setup
	$(BIN)/python -m pytest tests

# How often the simulated paper-size study reproduces each of the paper's behavioural
# decisions (SEEDS simulated studies; about 0.5 s each). Not part of the test suite.
SEEDS ?= 100
power: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.power --config config/paper.yaml --seeds $(SEEDS)

# Benchmarks (not part of the test suite): writes docs/benchmarks.md (sections replaced
# one by one as they are measured again; scratch runs in results/bench/work).
# BENCH_ARGS picks sections or a scratch folder, e.g. BENCH_ARGS="--sections naive".
BENCH_ARGS ?=
bench: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.bench all $(BENCH_ARGS)

# FWE calibration of the group-level inference on DATASETS null data sets per case at the
# paper's design (25 + 28 subjects, age and BDI; about 2 s each on 2 cores; not part of
# the test suite). Writes docs/validation/calibration.tsv.
DATASETS ?= 1000
ENGINE ?= ecgap
calibrate: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.calibrate --datasets $(DATASETS) --engine $(ENGINE)

# Truth recovery of the default simulated study over SEEDS seeds (10 unless SEEDS is
# given; about 6 min each on 2 cores). Writes docs/validation/recovery.tsv.
RECOVERY_SEEDS = $(if $(filter command line environment,$(origin SEEDS)),$(SEEDS),10)
recovery: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.recovery_runs --seeds $(RECOVERY_SEEDS)

# Variance cost of the 128 s high-pass filter for each first-level contrast in the
# task's timing. Writes docs/validation/high_pass.tsv.
efficiency: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.efficiency

# SLURM set-resources per rule from a finished run's benchmark files (for profiles/slurm).
resources: setup
	PYTHONPATH=scripts $(BIN)/python -m ecgap.resources results/benchmarks

lint: setup
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
