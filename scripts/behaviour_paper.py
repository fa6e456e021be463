"""Rule behaviour_paper: every statistic Klimecki et al. (2014) report, beside ours."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.io import read_tsv, write_tsv
import pandas as pd

from ecgap.paper import COMPARISON_COLUMNS, compare_with_paper
from ecgap.snake import run


def main(smk):
    if not smk.params.applies:
        logging.info("the design is not the paper's: no comparison with its statistics")
        write_tsv(pd.DataFrame(columns=COMPARISON_COLUMNS), smk.output[0])
        return
    tables = {name: read_tsv(path) for name, path in smk.input.items()}
    comparison = compare_with_paper(tables, smk.params.alpha)
    logging.info("%d of %d decisions agree with the paper", comparison["agree"].sum(),
                 len(comparison))
    write_tsv(comparison, smk.output[0])


run(snakemake, main)  # noqa: F821
