"""Rule group_mask: the voxels inside the brain masks of the runs that pass QC (in at
least second_level.mask_fraction of the subjects), computed once for all group analyses."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import pandas as pd

from ecgap.bids import run_id
from ecgap.io import read_tsv, save_nifti
from ecgap.second_level import group_mask
from ecgap.snake import run


def main(smk):
    qc = read_tsv(smk.input.qc, dtype={"subject": str, "session": str, "run": str})
    kept = {run_id(r.subject, r.session, None if pd.isna(r.run) else r.run,
                   smk.params.task): not r.excluded
            for r in qc.itertuples()}
    masks = {}
    for run, subject, path in zip(smk.params.runs, smk.params.subjects, smk.input.masks):
        masks.setdefault(subject, [])
        if kept[run]:
            masks[subject].append(path)
    mask = group_mask(masks, smk.params.fraction)
    logging.info("group mask from %d subjects (fraction %.2f): %d voxels", len(masks),
                 smk.params.fraction, int(mask.get_fdata().sum()))
    save_nifti(mask, smk.output[0])


run(snakemake, main)  # noqa: F821
