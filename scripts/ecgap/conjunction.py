"""Conjunctions under the conjunction null (Nichols et al. 2005).

A voxel is in the conjunction only where every contrast is individually FWE-significant;
its value is the minimum of the contrasts' z statistics there. An empty conjunction
means the conjunction null was not rejected anywhere, not that the networks are proven
distinct.
"""

from __future__ import annotations

from typing import Sequence

import nibabel as nib
import numpy as np
import pandas as pd


def minimum_statistic(z_maps: Sequence[nib.Nifti1Image],
                      fwe_maps: Sequence[nib.Nifti1Image]) -> nib.Nifti1Image:
    """min(z) where every FWE map is non-zero (significant), 0 elsewhere."""
    if len(z_maps) != len(fwe_maps) or len(z_maps) < 2:
        raise ValueError("a conjunction needs two or more (z, FWE) map pairs")
    z = np.stack([np.asarray(img.dataobj, dtype=float) for img in z_maps])
    significant = np.stack([np.asarray(img.dataobj) != 0 for img in fwe_maps]).all(axis=0)
    return nib.Nifti1Image(np.where(significant, z.min(axis=0), 0).astype(np.float32),
                           z_maps[0].affine)


def verdict(name: str, analyses: Sequence[str], contrast: str,
            clusters: pd.DataFrame) -> str:
    """One line stating what the conjunction found, in words and numbers."""
    joined = " AND ".join(analyses)
    if clusters.empty:
        return (f"{name}: {joined} ({contrast}): no voxel is FWE-significant in all "
                f"analyses; the conjunction null is not rejected anywhere.")
    top = clusters.sort_values("size_voxels", ascending=False).iloc[0]
    return (f"{name}: {joined} ({contrast}): {int(clusters['size_voxels'].sum())} voxels "
            f"in {len(clusters)} cluster(s) significant in all analyses (conjunction "
            f"null rejected); largest {int(top['size_voxels'])} voxels at "
            f"({top['peak_x']:.0f}, {top['peak_y']:.0f}, {top['peak_z']:.0f}), "
            f"{top['peak_label']}, min z {top['peak_min_z']:.2f}.")
