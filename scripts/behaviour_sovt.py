"""Rule behaviour_sovt: the SoVT MANOVA, univariate follow-ups, t-tests, correlations."""

import logging
import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.behaviour import (practice_correlations, sovt_manova, sovt_ttests,
                             univariate_followups)
from ecgap.io import read_tsv, write_tsv
from ecgap.snake import run


def main(smk):
    p = smk.params
    ratings = read_tsv(smk.input.ratings, dtype={"subject": str})
    participants = read_tsv(smk.input.participants, dtype={"subject": str})
    manova = sovt_manova(ratings, participants, p.sessions, p.covariates, p.center)
    logging.info("SoVT MANOVA (n = %d):\n%s", manova["n"].iloc[0], manova.to_string())
    write_tsv(manova, smk.output.manova)
    write_tsv(univariate_followups(ratings, participants, p.sessions, p.covariates, p.center),
              smk.output.univariate)
    write_tsv(sovt_ttests(ratings, participants, p.sessions), smk.output.ttests)
    write_tsv(practice_correlations(ratings, participants, p.sessions,
                                    column=p.practice_column), smk.output.correlations)


run(snakemake, main)  # noqa: F821
