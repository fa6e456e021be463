"""Rule report_findings: the headline numbers of the report's front page."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.io import read_json, write_json
from ecgap.report import headline_findings
from ecgap.snake import run


def main(smk):
    summaries = {path: read_json(path) for path in smk.input}
    write_json(headline_findings(summaries, smk.params.analyses, smk.params.conjunctions,
                                 smk.params.brain_behaviour), smk.output[0])


run(snakemake, main)  # noqa: F821
