"""Rule table_html: a results TSV as an HTML table for the report."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.io import read_tsv
from ecgap.report import write_table_html
from ecgap.snake import run


def main(smk):
    write_table_html(read_tsv(smk.input[0]), smk.output[0], smk.params.title,
                     smk.params.description)


run(snakemake, main)  # noqa: F821
