"""Rule ingest_behaviour: participants, ratings and memory-score tables."""

import gc
import logging
import sys
from pathlib import Path

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import pandas as pd

from ecgap.ingest import behaviour_tables
from ecgap.io import write_tsv
from ecgap.snake import run


def main(smk):
    p = smk.params
    events = pd.DataFrame([{"subject": s, "session": ses, "events": path}
                           for (s, ses), path in zip(p.runs, smk.input.events)])
    participants, ratings, memory = behaviour_tables(
        Path(smk.input.participants).parent, events, list(p.subjects), list(p.sessions),
        p.groups, list(p.covariates), p.conditions, p.ratings, p.memory)
    lacking = sorted(set(participants["subject"]) - set(memory["subject"]))
    logging.info("%d participants; %d rating rows; memory scores for %d (missing: %s)",
                 len(participants), len(ratings), memory["subject"].nunique(),
                 ", ".join(lacking) or "none")
    write_tsv(participants, smk.output.participants)
    write_tsv(ratings, smk.output.ratings)
    write_tsv(memory, smk.output.memory)
    excluded = pd.DataFrame(p.exclude_subjects, columns=["subject", "reason"])
    logging.info("excluded by the config: %s", ", ".join(excluded["subject"]) or "none")
    write_tsv(excluded, smk.output.excluded)


run(snakemake, main)  # noqa: F821
