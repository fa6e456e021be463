"""Ground-truth recovery of the simulated study: FWE-significant voxels vs planted regions.

Planted regions are the half-maximum balls of the simulator's blobs (the truth
``regions`` label map). For each analysis and contrast the table gives, per planted
region, how much of it is FWE-significant, and the Dice overlap between all significant
voxels and the planted network of the analysis' change period (empty for contrasts that
should find nothing, where only the false-positive count matters).
"""

from __future__ import annotations

from typing import Mapping

import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.image import resample_to_img

OUTSIDE = "outside planted regions"


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """2|A n B| / (|A| + |B|), 0 when both are empty."""
    total = int(a.sum() + b.sum())
    return 2.0 * float((a & b).sum()) / total if total else 0.0


def recovery_rows(significant: np.ndarray, labels: np.ndarray, regions: pd.DataFrame,
                  delta: str, expected: bool) -> list[dict]:
    """Rows for one analysis x contrast: one per planted region plus the outside voxels."""
    network = np.isin(labels, regions.loc[regions["delta"] == delta, "index"].to_numpy())
    network_dice = dice(significant, network) if expected else np.nan
    rows = []
    for _, region in regions.iterrows():
        inside = labels == region["index"]
        rows.append({"region": region["name"], "region_delta": region["delta"],
                     "expected": bool(expected and region["delta"] == delta),
                     "region_voxels": int(inside.sum()),
                     "significant_voxels": int((significant & inside).sum()),
                     "coverage": float((significant & inside).sum() / max(inside.sum(), 1)),
                     "network_dice": network_dice})
    rows.append({"region": OUTSIDE, "region_delta": "", "expected": False,
                 "region_voxels": int((labels == 0).sum()),
                 "significant_voxels": int((significant & (labels == 0)).sum()),
                 "coverage": np.nan, "network_dice": network_dice})
    return rows


def recovery_table(fwe_maps: Mapping[tuple[str, str], str], analyses: Mapping[str, Mapping],
                   regions_img: nib.Nifti1Image, regions: pd.DataFrame) -> pd.DataFrame:
    """Recovery of every (analysis, contrast) FWE-cluster map against the planted truth.

    ``fwe_maps`` maps (analysis name, contrast name) to the FWE-cluster t map path;
    ``analyses`` maps analysis names to their config entries (delta, contrast).
    A planted network is expected to be found by affect > memory for the HE, LE and
    mean(HE, LE) analyses of its change period.
    """
    rows = []
    for (name, contrast), path in fwe_maps.items():
        img = nib.load(path)
        labels = np.asarray(resample_to_img(regions_img, img, interpolation="nearest",
                                            force_resample=True, copy_header=True).dataobj)
        significant = np.asarray(img.dataobj) != 0
        analysis = analyses[name]
        expected = contrast == "affectGtMemory" and analysis["contrast"] != "HEMinusLE"
        for row in recovery_rows(significant, labels, regions, analysis["delta"], expected):
            rows.append({"analysis": name, "delta": analysis["delta"],
                         "first_level_contrast": analysis["contrast"],
                         "contrast": contrast, **row})
    return pd.DataFrame(rows)
