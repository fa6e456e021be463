"""Rule change_maps: delta1 = Post1 - Pre and delta2 = Post2 - Post1 of each effect map."""

import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.io import save_nifti
from ecgap.second_level import change_map, delta_sessions
from ecgap.snake import run


def main(smk):
    for path in smk.output:
        contrast = path.split("_contrast-")[1].split("_")[0]
        delta = path.split("_desc-")[1].split("_")[0]
        first, second = delta_sessions(delta, smk.params.sessions)
        img = change_map(nib.load(smk.input[f"{contrast}_{first}"]),
                         nib.load(smk.input[f"{contrast}_{second}"]))
        save_nifti(img, path)


run(snakemake, main)  # noqa: F821
