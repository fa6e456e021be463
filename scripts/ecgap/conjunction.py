"""Conjunctions under the conjunction null (Nichols et al. 2005), and cluster overlaps.

The minimum-statistic conjunction: a voxel is in the conjunction when it is significant
at voxel-level FWE in every analysis; its value is the minimum of the analyses' z there
and its conjunction FWE p the largest of their voxel FWE p values. Rejecting the
conjunction null at a voxel says that every analysis has an effect at that voxel.

The overlap of FWE-significant clusters is a weaker, descriptive output: a significant
cluster only says that the signal lies somewhere inside it, so a voxel in the overlap
of two such clusters is not shown to be active in both. It is named as an overlap, never
as a conjunction test. An empty conjunction means the conjunction null was not rejected
anywhere, not that the networks are proven distinct.
"""

from __future__ import annotations

from typing import Sequence

import nibabel as nib
import numpy as np
import pandas as pd

from ecgap.aal3 import readable_region


def _stack(images: Sequence[nib.Nifti1Image]) -> np.ndarray:
    return np.stack([np.asarray(img.dataobj, dtype=float) for img in images])


def _min_where(z: np.ndarray, keep: np.ndarray, affine: np.ndarray) -> nib.Nifti1Image:
    return nib.Nifti1Image(np.where(keep, z.min(axis=0), 0).astype(np.float32), affine)


def _check_pairs(z_maps: Sequence, other: Sequence) -> None:
    if len(z_maps) != len(other) or len(z_maps) < 2:
        raise ValueError("a conjunction needs two or more analyses, each with a z map "
                         "and its significance map")


def minimum_statistic(z_maps: Sequence[nib.Nifti1Image],
                      logp_fwe_voxel: Sequence[nib.Nifti1Image],
                      alpha: float) -> tuple[nib.Nifti1Image, nib.Nifti1Image]:
    """The conjunction: min z and -log10 conjunction p where every analysis has voxel
    FWE p < ``alpha``, 0 elsewhere.

    The conjunction p of a voxel is the largest of the analyses' voxel FWE p values,
    which controls the FWE under the conjunction null (Nichols et al. 2005).
    """
    _check_pairs(z_maps, logp_fwe_voxel)
    logp = _stack(logp_fwe_voxel)
    # The maps are float32 on disk: compare in float32, or p == alpha would pass.
    keep = (logp > np.float32(-np.log10(alpha))).all(axis=0)
    affine = z_maps[0].affine
    conj_logp = np.where(keep, logp.min(axis=0), 0).astype(np.float32)
    return _min_where(_stack(z_maps), keep, affine), nib.Nifti1Image(conj_logp, affine)


def cluster_overlap(z_maps: Sequence[nib.Nifti1Image],
                    fwe_cluster_maps: Sequence[nib.Nifti1Image]) -> nib.Nifti1Image:
    """min z where every analysis' FWE-cluster map is non-zero: the overlap of
    FWE-significant clusters (descriptive; not a conjunction test)."""
    _check_pairs(z_maps, fwe_cluster_maps)
    keep = (_stack(fwe_cluster_maps) != 0).all(axis=0)
    return _min_where(_stack(z_maps), keep, z_maps[0].affine)


def peak_conjunction_p(table: pd.DataFrame, labels: nib.Nifti1Image,
                       logp: nib.Nifti1Image) -> pd.Series:
    """Per cluster of ``labels``, the smallest conjunction FWE p inside it."""
    label_data, logp_data = np.asarray(labels.dataobj), np.asarray(logp.dataobj)
    return pd.Series([float(10 ** -logp_data[label_data == cid].max())
                      for cid in table["cluster_id"]], index=table.index, dtype=float)


def _where(clusters: pd.DataFrame) -> str:
    top = clusters.sort_values("size_voxels", ascending=False).iloc[0]
    return (f"largest {int(top['size_voxels'])} voxels at ({top['peak_x']:.0f}, "
            f"{top['peak_y']:.0f}, {top['peak_z']:.0f}), {readable_region(top['peak_label'])}, "
            f"min z {top['peak_min_z']:.2f}")


def verdict(name: str, analyses: Sequence[str], contrast: str,
            clusters: pd.DataFrame) -> str:
    """One line stating what the conjunction found, in words and numbers."""
    joined = " AND ".join(analyses)
    if clusters.empty:
        return (f"{name}: {joined} ({contrast}): no voxel is voxel-FWE significant in "
                f"all analyses; the conjunction null is not rejected anywhere.")
    return (f"{name}: {joined} ({contrast}): {int(clusters['size_voxels'].sum())} voxels "
            f"in {len(clusters)} cluster(s) are voxel-FWE significant in every analysis "
            f"(conjunction null rejected there); {_where(clusters)}.")


def overlap_sentence(name: str, clusters: pd.DataFrame) -> str:
    """One line on the overlap of FWE-significant clusters, named as what it is."""
    if clusters.empty:
        return f"{name}: the FWE-significant clusters of the analyses do not overlap."
    return (f"{name}: the FWE-significant clusters of the analyses overlap in "
            f"{int(clusters['size_voxels'].sum())} voxels ({len(clusters)} part(s); "
            f"{_where(clusters)}); an overlap of clusters does not show that each "
            f"voxel is active in every analysis.")
