"""Rule behaviour_memory: memory-task MANOVA (time x group) and paired t-tests."""

import logging
import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.behaviour import memory_manova, memory_ttests
from ecgap.io import read_tsv, write_tsv
from ecgap.snake import run


def main(smk):
    p = smk.params
    memory = read_tsv(smk.input.memory, dtype={"subject": str})
    participants = read_tsv(smk.input.participants, dtype={"subject": str})
    manova = memory_manova(memory, participants, p.sessions, p.scores, p.covariates, p.center)
    dropped = sorted(set(participants["subject"]) - set(memory["subject"]))
    logging.info("memory MANOVA on n = %d (no memory data: %s)\n%s", manova["n"].iloc[0],
                 ", ".join(dropped) or "none", manova.to_string())
    write_tsv(manova, smk.output.manova)
    write_tsv(memory_ttests(memory, participants, p.sessions, p.scores), smk.output.ttests)


run(snakemake, main)  # noqa: F821
