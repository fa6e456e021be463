"""Rule figure_first_level_designs: every session's design-matrix figure, in one job.

One job for all sessions: drawing a design takes about 0.1 s, the plotting imports of a
job of its own about 0.5 s (they used to be paid by each first-level job).
"""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.figures import plot_session_design, save_figure
from ecgap.io import read_tsv
from ecgap.snake import run


def main(smk):
    for design, figure in zip(smk.input.designs, smk.output.figures, strict=True):
        save_figure(plot_session_design(read_tsv(design)), figure, smk.params.dpi)
    logging.info("drew %d design matrices", len(smk.output.figures))


run(snakemake, main)  # noqa: F821
