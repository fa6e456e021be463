"""Rule dataset_description: results/ as a BIDS derivative dataset (GeneratedBy, sources)."""

import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.io import write_json
from ecgap.provenance import dataset_description
from ecgap.snake import run


def main(smk):
    write_json(dataset_description(smk.params.commit, list(smk.params.sources)), smk.output[0])


run(snakemake, main)  # noqa: F821
