"""Rule simulate_regressors: every simulated run's HRF-convolved task regressors."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.design import Design
from ecgap.io import read_tsv, write_tsv
from ecgap.simulate_study import study_regressors
from ecgap.snake import run


def main(smk):
    events = [read_tsv(path) for path in smk.input.events]
    write_tsv(study_regressors(events, smk.params.runs, smk.params.tr,
                               Design.from_dict(smk.params.design)), smk.output[0])


run(snakemake, main)  # noqa: F821
