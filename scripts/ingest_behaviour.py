"""Rule ingest_behaviour: participants, ratings and memory-score tables."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import pandas as pd

from ecgap.bids import Layout
from ecgap.ingest import memory_table, ratings_table, read_participants
from ecgap.io import InputError, write_tsv
from ecgap.snake import run


def main(smk):
    p = smk.params
    participants = read_participants(Path(smk.input.participants), p.groups, p.covariates)
    unknown = sorted(set(p.subjects) - set(participants["subject"]))
    if unknown:
        raise InputError(smk.input.participants, f"no row for sub-{', sub-'.join(unknown)}")
    participants = participants[participants["subject"].isin(p.subjects)]
    events = pd.DataFrame([{"subject": s, "session": ses, "events": e} for (s, ses), e in
                           zip([(s, ses) for s in p.subjects for ses in p.sessions],
                               smk.input.events)])
    video_types = {"HE": p.events["he"], "LE": p.events["le"]}
    ratings = ratings_table(participants, events, video_types, p.ratings, list(p.sessions))
    bids_dir = Path(smk.input.participants).parent
    layout = Layout(bids_dir, bids_dir, "", "")
    memory = memory_table(layout, participants, list(p.sessions), p.memory["task"],
                          p.memory["scores"])
    lacking = sorted(set(participants["subject"]) - set(memory["subject"]))
    logging.info("%d participants; %d rating rows; memory scores for %d (missing: %s)",
                 len(participants), len(ratings), memory["subject"].nunique(),
                 ", ".join(lacking) or "none")
    columns = ["participant_id", "subject", "group", "role", *p.covariates]
    columns += [c for c in participants.columns if c not in columns]
    write_tsv(participants[columns], smk.output.participants)
    write_tsv(ratings, smk.output.ratings)
    write_tsv(memory, smk.output.memory)


run(snakemake, main)  # noqa: F821
