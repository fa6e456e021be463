"""Rule qc_runs: the per-run QC table and the list of excluded runs."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import pandas as pd

from ecgap.io import read_json, write_tsv
from ecgap.qc import session_exclusions
from ecgap.snake import run

COLUMNS = ["subject", "session", "run", "mean_fd", "max_fd", "n_volumes", "n_scrubbed",
           "scrubbed_fraction", "tsnr", "excluded", "reason"]


def main(smk):
    runs = pd.DataFrame([read_json(path) for path in smk.input])[COLUMNS]
    excluded = session_exclusions(runs)
    logging.info("%d of %d runs excluded", int(runs["excluded"].sum()), len(runs))
    write_tsv(runs, smk.output.runs)
    write_tsv(excluded, smk.output.exclusions)


run(snakemake, main)  # noqa: F821
