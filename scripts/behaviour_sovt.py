"""Rule behaviour_sovt: the ratings' repeated-measures MANOVA, univariate follow-ups,
t-tests and practice correlations."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.behaviour import (practice_correlations, rating_ttests, ratings_manova,
                             univariate_followups)
from ecgap.design import Design
from ecgap.io import read_tsv, write_tsv
from ecgap.snake import run


def main(smk):
    p = smk.params
    design = Design.from_dict(p.design)
    ratings = read_tsv(smk.input.ratings, dtype={"subject": str})
    participants = read_tsv(smk.input.participants, dtype={"subject": str})
    manova = ratings_manova(ratings, participants, design, p.covariates, p.center)
    logging.info("ratings MANOVA (n = %d):\n%s", manova["n"].iloc[0], manova.to_string())
    write_tsv(manova, smk.output.manova)
    write_tsv(univariate_followups(ratings, participants, design, p.covariates, p.center),
              smk.output.univariate)
    write_tsv(rating_ttests(ratings, participants, design), smk.output.ttests)
    write_tsv(practice_correlations(ratings, participants, design,
                                    column=p.practice_column), smk.output.correlations)


run(snakemake, main)  # noqa: F821
