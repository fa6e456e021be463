"""Rule methods: results/methods.md from the run's configuration and numbers."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.io import read_json, read_tsv, write_text
from ecgap.methods import methods_markdown
from ecgap.provenance import software_versions
from ecgap.snake import run


def main(smk):
    text = methods_markdown(smk.params.settings,
                            read_tsv(smk.input.runs, dtype={"subject": str}),
                            read_tsv(smk.input.exclusions, dtype={"subject": str}),
                            [read_json(p) for p in smk.input.group_sidecars],
                            [read_json(p) for p in smk.input.bb_sidecars],
                            software_versions(smk.params.snakemake_version))
    write_text(text, smk.output[0])


run(snakemake, main)  # noqa: F821
