"""Rule group_mask: the voxels inside every run's brain mask, computed once for all
group analyses."""

import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from nilearn.masking import intersect_masks

from ecgap.io import save_nifti
from ecgap.snake import run


def main(smk):
    save_nifti(intersect_masks(list(smk.input), threshold=1, connected=False), smk.output[0])


run(snakemake, main)  # noqa: F821
