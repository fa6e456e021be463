"""Rule change_maps: one subject's change of each effect map over one change period (the
later session's map minus the earlier one's)."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.io import save_nifti
from ecgap.names import entities_of
from ecgap.changes import change_map
from ecgap.snake import run


def main(smk):
    first, second = smk.params.sessions
    for path in smk.output:
        contrast = entities_of(path)["contrast"]
        img = change_map(nib.load(smk.input[f"{contrast}_{first}"]),
                         nib.load(smk.input[f"{contrast}_{second}"]))
        save_nifti(img, path)


run(snakemake, main)  # noqa: F821
