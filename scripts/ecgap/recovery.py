"""Ground-truth recovery of the simulated study: FWE-significant clusters vs planted truth.

For each group analysis and direction the planted effect is the group contrast applied
to the first-level contrast of the simulator's planted change maps of the changes the
analysed period spans (e.g. in the paper's design, for the delta1 HE-LE analysis,
affect > memory: delta1HE - delta1LE, since the memory group changes nowhere). Its **support** is where it reaches 5 % of its peak, split into the planted
regions by the simulator's support label map (6 mm smoothing spreads a planted effect
well past its half-maximum ball, so Dice against such balls would penalise correct
findings). Two tables:

- per planted region: whether the analysis is expected to find it (the planted effect
  in the region's half-maximum ball reaches half the analysis' peak), whether any
  significant voxel lies in its support (detected), and the significant voxels in its
  half-maximum ball;
- per analysis and direction: the significant voxels, the precision (share of them in
  the planted support), the FWE clusters, and the clusters with no voxel in the planted
  support (off target). Where nothing is planted every cluster is off target.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.image import resample_to_img
from scipy import ndimage

from ecgap.design import Design
from ecgap.permutation import cluster_structure
from ecgap.simulate_images import SUPPORT_FRACTION


def spanned_changes(design: Design, changes: Sequence[Mapping[str, Any]],
                    period: str) -> list[Mapping[str, Any]]:
    """The planted changes whose step lies within a period's two sessions."""
    first, second = (design.sessions.index(s) for s in design.period_sessions(period))
    return [c for c in changes if first < c["step"] <= second]


def planted_effect(truth: Mapping[str, np.ndarray], design: Design,
                   changes: Sequence[Mapping[str, Any]], period: str,
                   first_level_contrast: str, group_contrast: str) -> np.ndarray:
    """The planted change of one analysis and direction (0 where nothing is planted):
    per change the period spans, the group contrast's weight summed over the groups the
    change plants, times the first-level contrast of its maps."""
    weights = design.contrast_weights(first_level_contrast)
    groups = design.group_weights(group_contrast)
    effect = 0.0
    for change in spanned_changes(design, changes, period):
        group_weight = sum(groups[g] for g in change["groups"])
        effect = effect + group_weight * sum(w * truth[f"{change['name']}{c}"]
                                             for c, w in weights.items())
    return effect if not np.isscalar(effect) else np.zeros(next(iter(truth.values())).shape)


def planted_support(effect: np.ndarray) -> np.ndarray:
    """Where a positive planted effect reaches SUPPORT_FRACTION of its peak."""
    peak = float(effect.max())
    # relative, so that resampling ringing of a negative or zero effect plants nothing
    if peak <= SUPPORT_FRACTION * float(np.abs(effect).max()) or peak <= 0:
        return np.zeros(effect.shape, bool)
    return effect >= SUPPORT_FRACTION * peak


def region_rows(significant: np.ndarray, effect: np.ndarray, core_labels: np.ndarray,
                support_labels: np.ndarray, regions: pd.DataFrame) -> list[dict]:
    """Per planted region: expected, detected, significant voxels in its support and in
    its core (the half-maximum ball).

    A region is expected when the planted effect in its core reaches half the analysis'
    peak: the region carries the effect itself, rather than a neighbour's tail reaching
    into it (blobs overlap at 5 % of their peak).
    """
    peak = float(effect.max()) if planted_support(effect).any() else 0.0
    rows = []
    for region in regions.itertuples():
        core, support = core_labels == region.index, support_labels == region.index
        expected = bool(peak > 0 and core.any() and effect[core].max() >= 0.5 * peak)
        hits = int((significant & support).sum())
        rows.append({"region": region.name, "region_delta": region.delta,
                     "expected": expected, "detected": hits > 0,
                     "significant_voxels": hits, "support_voxels": int(support.sum()),
                     "core_significant_voxels": int((significant & core).sum())})
    return rows


def summary_row(significant: np.ndarray, effect: np.ndarray, connectivity: int = 6) -> dict:
    """Significant voxels, precision, FWE clusters and off-target clusters."""
    support = planted_support(effect)
    labels, n_clusters = ndimage.label(significant, cluster_structure(connectivity))
    on_target = set(np.unique(labels[support & significant])) - {0}
    n_sig = int(significant.sum())
    return {"planted": bool(support.any()), "significant_voxels": n_sig,
            "precision": float((significant & support).sum() / n_sig) if n_sig else np.nan,
            "clusters": int(n_clusters), "off_target_clusters": n_clusters - len(on_target)}


def _on_grid(img: nib.Nifti1Image, like: nib.Nifti1Image, interpolation: str) -> np.ndarray:
    return np.asarray(resample_to_img(img, like, interpolation=interpolation,
                                      force_resample=True, copy_header=True).dataobj)


def _truth_on_grid(img: nib.Nifti1Image, truth_maps: Mapping[str, nib.Nifti1Image],
                   *label_imgs: nib.Nifti1Image) -> tuple:
    """The planted maps (continuous) and label images (nearest) on the grid of ``img``."""
    return ({k: _on_grid(v, img, "continuous") for k, v in truth_maps.items()},
            *(_on_grid(label, img, "nearest") for label in label_imgs))


def recovery_tables(fwe_maps: Mapping[tuple[str, str], str], analyses: Mapping[str, Mapping],
                    truth_maps: Mapping[str, nib.Nifti1Image], core_img: nib.Nifti1Image,
                    support_img: nib.Nifti1Image, regions: pd.DataFrame,
                    design: Design, changes: Sequence[Mapping[str, Any]],
                    connectivity: int = 6,
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per analysis x direction, per analysis x direction x region) recovery tables.

    ``fwe_maps`` maps (analysis name, group contrast) to the FWE-cluster t map path;
    ``analyses`` maps analysis names to their config entries (delta, contrast);
    ``truth_maps`` holds the planted change maps by name (``delta1HE``, ...), made by
    the config's ``simulate.imaging.changes`` (``changes``).
    """
    summary, per_region = [], []
    grid = None
    for (name, contrast), path in fwe_maps.items():
        img = nib.load(path)
        grid = grid or _truth_on_grid(img, truth_maps, core_img, support_img)
        truth, core_labels, support_labels = grid
        analysis = analyses[name]
        key = {"analysis": name, "delta": analysis["delta"],
               "first_level_contrast": analysis["contrast"], "contrast": contrast}
        effect = planted_effect(truth, design, changes, analysis["delta"],
                                analysis["contrast"], contrast)
        significant = np.asarray(img.dataobj) != 0
        summary.append({**key, **summary_row(significant, effect, connectivity)})
        per_region += [{**key, **row} for row in
                       region_rows(significant, effect, core_labels, support_labels, regions)]
    regions_table = pd.DataFrame(per_region)
    table = pd.DataFrame(summary)
    found = regions_table[regions_table["expected"] & regions_table["detected"]]
    expected = regions_table[regions_table["expected"]]
    keys = ["analysis", "contrast"]
    for column, rows in (("expected_regions", expected), ("detected_regions", found)):
        names = rows.groupby(keys, sort=False)["region"].agg(", ".join)
        table[column] = [names.get(k, "") for k in zip(table["analysis"], table["contrast"])]
    return table, regions_table


def region_peak_z(z: np.ndarray, effect: np.ndarray, core_labels: np.ndarray,
                  regions: pd.DataFrame) -> dict[str, float]:
    """The group z at each planted region's peak: the voxel of its core (half-maximum
    ball) where the planted effect is largest; NaN for a region without core voxels.

    Unthresholded, so it says how near a missed region came: over seeds its mean
    estimates the analysis' noncentrality at that region.
    """
    peaks = {}
    for region in regions.itertuples():
        core = core_labels == region.index
        if not core.any():
            peaks[region.name] = np.nan
            continue
        where = np.flatnonzero(core)
        peaks[region.name] = float(z.ravel()[where[np.argmax(effect.ravel()[where])]])
    return peaks


def peak_z_table(z_maps: Mapping[tuple[str, str], str], analyses: Mapping[str, Mapping],
                 truth_maps: Mapping[str, nib.Nifti1Image], core_img: nib.Nifti1Image,
                 regions: pd.DataFrame, design: Design,
                 changes: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per analysis, direction and planted region: the group z at the region's peak.

    ``z_maps`` maps (analysis name, group contrast) to the unthresholded z map path;
    the other arguments are those of :func:`recovery_tables`.
    """
    rows, grid = [], None
    for (name, contrast), path in z_maps.items():
        img = nib.load(path)
        grid = grid or _truth_on_grid(img, truth_maps, core_img)
        truth, core_labels = grid
        analysis = analyses[name]
        effect = planted_effect(truth, design, changes, analysis["delta"],
                                analysis["contrast"], contrast)
        peaks = region_peak_z(np.asarray(img.dataobj), effect, core_labels, regions)
        rows += [{"analysis": name, "contrast": contrast, "region": region, "peak_z": z}
                 for region, z in peaks.items()]
    return pd.DataFrame(rows)
