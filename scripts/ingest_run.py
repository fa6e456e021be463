"""Rule ingest_run: validate one run's images, sidecars, confounds and events."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import pandas as pd

from ecgap.ingest import check_run
from ecgap.io import write_tsv
from ecgap.snake import run

FILES = ("events", "bold", "bold_json", "mask", "confounds", "confounds_json")


def main(smk):
    files = {key: smk.input[key] for key in FILES}
    info = check_run(files, smk.params.tr, smk.params.tr_tolerance,
                     smk.params.check_header_tr, smk.params.conditions)
    logging.info("%s: %s", smk.wildcards.run_id, info)
    row = {**smk.params.run, **{k: files[k] for k in ("bold", "mask", "confounds", "events")},
           **info}
    write_tsv(pd.DataFrame([row]), smk.output[0])


run(snakemake, main)  # noqa: F821
