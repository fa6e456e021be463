"""Rule ingest_runs: gather the per-run checks into results/ingest/runs.tsv."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import pandas as pd

from ecgap.io import read_tsv, write_tsv
from ecgap.snake import run


def main(smk):
    runs = pd.concat([read_tsv(p, dtype={"subject": str, "session": str, "run": str})
                      for p in smk.input], ignore_index=True)
    columns = ["subject", "session", "run", "bold", "mask", "confounds", "events", "tr",
               "slice_time_ref", "n_volumes", "n_voxels", "grid"]
    write_tsv(runs[columns], smk.output[0])


run(snakemake, main)  # noqa: F821
