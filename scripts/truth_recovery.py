"""Rule truth_recovery (simulated data only): FWE-significant voxels vs planted regions."""

import logging
import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.io import read_tsv, write_tsv
from ecgap.recovery import OUTSIDE, recovery_table
from ecgap.snake import run


def main(smk):
    maps = {tuple(key): path for key, path in zip(smk.params.map_keys, smk.input.maps)}
    table = recovery_table(maps, smk.params.analyses, nib.load(smk.input.labels),
                           read_tsv(smk.input.regions))
    for (analysis, contrast), rows in table.groupby(["analysis", "contrast"], sort=False):
        found = rows[rows["expected"] & (rows["significant_voxels"] > 0)]["region"].tolist()
        outside = int(rows.loc[rows["region"] == OUTSIDE, "significant_voxels"].iloc[0])
        logging.info("%s %s: Dice %.2f, planted regions found: %s; %d significant voxels "
                     "outside planted regions", analysis, contrast,
                     rows["network_dice"].iloc[0], found or "none", outside)
    write_tsv(table, smk.output[0])


run(snakemake, main)  # noqa: F821
