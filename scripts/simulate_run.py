"""Rule simulate_run: fMRIPrep-style derivatives of one subject x session run."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.design import Design
from ecgap.io import read_tsv
from ecgap.simulate_study import (GRID_IMAGES, read_grid, read_regressors,
                                  run_regressors, write_run)
from ecgap.snake import run


def main(smk):
    subject, session = smk.wildcards.subject, smk.wildcards.session
    gains = read_tsv(smk.input.gains).set_index("participant_id").loc[f"sub-{subject}"]
    runs = read_tsv(smk.input.runs, dtype={"subject": str, "session": str})
    high_motion = bool(runs.loc[(runs.subject == subject) & (runs.session == session),
                                "high_motion"].iloc[0])
    write_run(read_tsv(smk.input.events), gains, smk.params.session_index, high_motion,
              smk.params.simulate, smk.params.task, subject, smk.output,
              Design.from_dict(smk.params.design), grid=read_grid({key: smk.input[key] for key in GRID_IMAGES}),
              regressors=run_regressors(read_regressors(smk.input.regressors), subject, session))


run(snakemake, main)  # noqa: F821
