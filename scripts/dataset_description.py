"""Rule dataset_description: results/ as a BIDS derivative dataset (GeneratedBy, sources)."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.io import write_json
from ecgap.provenance import commit, dataset_description
from ecgap.snake import run


def main(smk):
    # The commit is read here, not passed as a param: a new commit alone reruns nothing.
    write_json(dataset_description(commit(), list(smk.params.sources),
                                   smk.params.snakemake_version), smk.output[0])


run(snakemake, main)  # noqa: F821
