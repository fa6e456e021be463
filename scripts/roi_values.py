"""Rule roi_values: each subject's mean effect per session and video type in every
significant cluster of one analysis (group, conjunction or brain-behaviour)."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.io import read_tsv, write_tsv
from ecgap.roi import roi_values
from ecgap.snake import run


def main(smk):
    clusters = read_tsv(smk.input.clusters)
    participants = read_tsv(smk.input.participants, dtype={"subject": str})
    designs = [read_tsv(p, dtype={"subject": str}) for p in smk.input.designs]
    # A conjunction's clusters use the subjects common to all its analyses.
    used = set.intersection(*(set(d["subject"]) for d in designs))
    contrasts = list(smk.params.contrasts)
    labels = {c: nib.load(p) for c, p in zip(contrasts, smk.input.labels)}
    maps = {tuple(k): p for k, p in zip(smk.params.map_keys, smk.input.maps)}
    table = roi_values(labels, clusters, maps, participants, {c: used for c in contrasts})
    logging.info("%d significant clusters, %d rows", table[["contrast", "cluster_id"]]
                 .drop_duplicates().shape[0], len(table))
    write_tsv(table, smk.output[0])


run(snakemake, main)  # noqa: F821
