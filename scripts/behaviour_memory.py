"""Rule behaviour_memory: the per-session scores' (memory task's) time x group MANOVA and
paired t-tests."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.behaviour import scores_manova, scores_ttests
from ecgap.design import Design
from ecgap.io import read_tsv, write_tsv
from ecgap.snake import run


def main(smk):
    p = smk.params
    design = Design.from_dict(p.design)
    scores = read_tsv(smk.input.memory, dtype={"subject": str})
    participants = read_tsv(smk.input.participants, dtype={"subject": str})
    manova = scores_manova(scores, participants, design, p.covariates, p.center)
    dropped = sorted(set(participants["subject"]) - set(scores["subject"]))
    logging.info("scores MANOVA on n = %s (no scores: %s)\n%s",
                 manova["n"].iloc[0] if len(manova) else 0, ", ".join(dropped) or "none",
                 manova.to_string())
    write_tsv(manova, smk.output.manova)
    write_tsv(scores_ttests(scores, participants, design), smk.output.ttests)


run(snakemake, main)  # noqa: F821
