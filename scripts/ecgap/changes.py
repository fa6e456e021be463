"""Per-subject change maps: one session's effect map subtracted from a later one's.

nibabel only (no nilearn): a change-map job does one subtraction per map, and importing
nilearn would cost it more than the work.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np


def change_map(first: nib.Nifti1Image, second: nib.Nifti1Image) -> nib.Nifti1Image:
    """second - first (e.g. delta1 = Post1 - Pre of a contrast's effect map).

    Both maps must share the voxel grid. The difference is computed in float64 and
    returned as float32, the type of the maps on disk.
    """
    if first.shape != second.shape or not np.allclose(first.affine, second.affine):
        raise ValueError(f"change map of images on different grids: {first.shape} vs "
                         f"{second.shape}")
    diff = second.get_fdata(dtype=np.float64) - first.get_fdata(dtype=np.float64)
    return nib.Nifti1Image(diff.astype(np.float32), second.affine)
