"""FWE calibration (``make calibrate``): the group-level code on null data.

Each null data set is two groups of smooth Gaussian noise maps on nilearn's MNI brain
mask (resampled to a small grid) with random age and BDI covariates and no group
difference. The project's own second-level path (group design with covariates,
partitioned affect > memory contrast, permutation inference) is run on each; a data set
is a false positive when any voxel (voxel FWE) or any cluster (cluster-size or -mass FWE)
reaches p < alpha. A valid test rejects in about alpha of the data sets; the printed
interval is the exact (Clopper-Pearson) 95 % interval of the rejection rate.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.datasets import load_mni152_brain_mask
from nilearn.image import resample_img
from scipy import ndimage
from statsmodels.stats.proportion import proportion_confint

from ecgap.second_level import Inference, contrast_vector, group_design, permutation_maps

TESTS = {"voxel": "logp_max_t", "cluster_size": "logp_max_size",
         "cluster_mass": "logp_max_mass"}


def null_mask(grid_mm: float) -> nib.Nifti1Image:
    """nilearn's MNI152 brain mask on a ``grid_mm`` isotropic grid (no download)."""
    mni = load_mni152_brain_mask(resolution=2)
    return resample_img(mni, target_affine=np.diag([grid_mm] * 3), interpolation="nearest",
                        force_resample=True, copy_header=True)


def null_study(mask: nib.Nifti1Image, n_per_group: int, fwhm_mm: float,
               rng: np.random.Generator) -> tuple[list[nib.Nifti1Image], pd.DataFrame]:
    """Smooth noise maps for two groups with covariates and no group difference."""
    grid_mm = abs(mask.affine[0, 0])
    sigma = fwhm_mm / grid_mm / np.sqrt(8 * np.log(2))
    inside = np.asarray(mask.dataobj) > 0
    maps = []
    for _ in range(2 * n_per_group):
        field = ndimage.gaussian_filter(rng.normal(size=mask.shape), sigma)
        maps.append(nib.Nifti1Image((field * inside).astype(np.float32), mask.affine))
    n = 2 * n_per_group
    subjects = pd.DataFrame({"subject": [f"{i:03d}" for i in range(n)],
                             "role": ["affect"] * n_per_group + ["memory"] * n_per_group,
                             "age": rng.normal(24, 4, n), "bdi": rng.gamma(1.5, 3, n)})
    return maps, subjects


def rejections(maps: list[nib.Nifti1Image], subjects: pd.DataFrame, mask: nib.Nifti1Image,
               settings: Inference) -> dict[str, bool]:
    """Whether each FWE test rejects anywhere for affect > memory."""
    design = group_design(subjects, ["age", "bdi"])
    contrast = contrast_vector(design, {"affect": 1.0, "memory": -1.0})
    out = permutation_maps(maps, design, contrast, mask, settings)
    limit = -np.log10(settings.alpha)
    return {test: bool((np.asarray(out[key].dataobj) > limit).any())
            for test, key in TESTS.items()}


def calibrate(n_datasets: int, n_per_group: int, grid_mm: float, fwhm_mm: float,
              thresholds: list[float], settings: Inference, seed: int) -> pd.DataFrame:
    """Rejection rates with 95 % intervals, one row per (cluster-forming p, test)."""
    mask = null_mask(grid_mm)
    rng = np.random.default_rng(seed)
    hits = {(p, test): 0 for p in thresholds for test in TESTS}
    for i in range(n_datasets):
        maps, subjects = null_study(mask, n_per_group, fwhm_mm, rng)
        for p in thresholds:
            run = replace(settings, cluster_forming_p=p, seed=i + 1)
            for test, rejected in rejections(maps, subjects, mask, run).items():
                hits[(p, test)] += rejected
    rows = []
    for (p, test), k in hits.items():
        lo, hi = proportion_confint(k, n_datasets, alpha=0.05, method="beta")
        rows.append({"cluster_forming_p": p, "test": test, "datasets": n_datasets,
                     "rejections": k, "rate": k / n_datasets, "ci95_low": lo,
                     "ci95_high": hi})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--per-group", type=int, default=15)
    parser.add_argument("--grid-mm", type=float, default=6.0)
    parser.add_argument("--fwhm-mm", type=float, default=12.0)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.001, 0.01])
    parser.add_argument("--engine", choices=["ecgap", "nilearn"], default="ecgap")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=2014)
    args = parser.parse_args(argv)
    settings = Inference(n_permutations=args.permutations, alpha=args.alpha,
                         engine=args.engine)
    start = time.perf_counter()
    table = calibrate(args.datasets, args.per_group, args.grid_mm, args.fwhm_mm,
                      args.thresholds, settings, args.seed)
    print(f"FWE calibration: {args.datasets} null data sets, {args.per_group} + "
          f"{args.per_group} subjects, {args.grid_mm:g} mm MNI mask, smoothness "
          f"{args.fwhm_mm:g} mm FWHM, {args.permutations} permutations, engine "
          f"{args.engine}, alpha {args.alpha:g}, one-sided affect > memory "
          f"({time.perf_counter() - start:.0f} s)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
