"""FWE calibration (``make calibrate``): the group-level code on null data.

Each null data set is the paper's design: two groups (25 affect + 28 memory subjects by
default) of smooth Gaussian noise maps on nilearn's MNI brain mask (resampled to a
coarser grid) with age and BDI covariates and no group difference. The project's own
second-level path (group design with centred covariates, partitioned affect > memory
contrast, permutation inference at the default cluster-forming p) is run on each; a
data set is a false positive when any voxel (voxel FWE) or any cluster (cluster-size or
-mass FWE) reaches p < alpha. A valid test rejects in about alpha of the data sets; the
table gives the exact (Clopper-Pearson) 95 % interval of each rejection rate.

Two cases: equal variances, and the affect group's noise sd 1.5x the memory group's
(unequal variances with unequal group sizes, where permutation of a two-sample t is not
exact: the Behrens-Fisher problem).
"""

from __future__ import annotations

import argparse
import gc
import time
from dataclasses import dataclass, replace

import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.datasets import load_mni152_brain_mask
from nilearn.image import resample_img
from scipy import ndimage
from statsmodels.stats.proportion import proportion_confint

from ecgap.provenance import write_table
from ecgap.second_level import Inference, contrast_vector, group_design, permutation_maps

#: The two groups of a null study (the paper's affect and memory groups).
TRAINED, CONTROL = "trained", "control"
TESTS = {"voxel": "logp_max_t", "cluster_size": "logp_max_size",
         "cluster_mass": "logp_max_mass"}


@dataclass(frozen=True)
class NullCase:
    """One null design: group sizes (the paper's by default) and the trained group's
    noise sd (the control's is 1)."""

    name: str
    n_trained: int = 25
    n_control: int = 28
    trained_sd: float = 1.0


def null_mask(grid_mm: float) -> nib.Nifti1Image:
    """nilearn's MNI152 brain mask on a ``grid_mm`` isotropic grid (no download)."""
    mni = load_mni152_brain_mask(resolution=2)
    return resample_img(mni, target_affine=np.diag([grid_mm] * 3), interpolation="nearest",
                        force_resample=True, copy_header=True)


def null_study(mask: nib.Nifti1Image, case: NullCase, fwhm_mm: float,
               rng: np.random.Generator) -> tuple[list[nib.Nifti1Image], pd.DataFrame]:
    """Smooth unit-variance noise maps for two groups with covariates, no group effect."""
    grid_mm = abs(mask.affine[0, 0])
    sigma = fwhm_mm / grid_mm / np.sqrt(8 * np.log(2))
    inside = np.asarray(mask.dataobj) > 0
    n = case.n_trained + case.n_control
    roles = [TRAINED] * case.n_trained + [CONTROL] * case.n_control
    maps = []
    for role in roles:
        field = ndimage.gaussian_filter(rng.normal(size=mask.shape), sigma)
        field *= (case.trained_sd if role == TRAINED else 1.0) / field[inside].std()
        maps.append(nib.Nifti1Image((field * inside).astype(np.float32), mask.affine))
    subjects = pd.DataFrame({"subject": [f"{i:03d}" for i in range(n)], "role": roles,
                             "age": rng.normal(24, 4, n), "bdi": rng.gamma(1.5, 3, n)})
    return maps, subjects


def rejections(maps: list[nib.Nifti1Image], subjects: pd.DataFrame, mask: nib.Nifti1Image,
               settings: Inference) -> dict[str, bool]:
    """Whether each FWE test rejects anywhere for trained > control."""
    design = group_design(subjects, ["age", "bdi"], [TRAINED, CONTROL])
    contrast = contrast_vector(design, {TRAINED: 1.0, CONTROL: -1.0})
    out = permutation_maps(maps, design, contrast, mask, settings)
    limit = -np.log10(settings.alpha)
    return {test: bool((np.asarray(out[key].dataobj) > limit).any())
            for test, key in TESTS.items()}


def rate_rows(case: NullCase, hits: dict[str, int], n_datasets: int,
              settings: Inference) -> list[dict]:
    rows = []
    for test, k in hits.items():
        lo, hi = proportion_confint(k, n_datasets, alpha=0.05, method="beta")
        rows.append({"case": case.name, "n_trained": case.n_trained,
                     "n_control": case.n_control, "trained_sd": case.trained_sd, "test": test,
                     "cluster_forming_p": settings.cluster_forming_p,
                     "connectivity": settings.connectivity, "datasets": n_datasets,
                     "rejections": k, "rate": k / n_datasets, "ci95_low": lo,
                     "ci95_high": hi})
    return rows


def calibrate(cases: list[NullCase], n_datasets: int, grid_mm: float, fwhm_mm: float,
              settings: Inference, seed: int) -> pd.DataFrame:
    """Rejection rates with exact 95 % intervals, one row per (case, FWE test)."""
    mask = null_mask(grid_mm)
    rows = []
    for number, case in enumerate(cases):
        rng = np.random.default_rng([seed, number])
        hits = {test: 0 for test in TESTS}
        for i in range(n_datasets):
            maps, subjects = null_study(mask, case, fwhm_mm, rng)
            gc.freeze()  # nilearn's gc.collect at each image access would rescan them
            run = replace(settings, seed=seed + i)
            for test, rejected in rejections(maps, subjects, mask, run).items():
                hits[test] += rejected
        rows += rate_rows(case, hits, n_datasets, settings)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--trained", type=int, default=25,
                        help="trained group's size (the paper's: 25)")
    parser.add_argument("--control", type=int, default=28,
                        help="control group's size (the paper's: 28)")
    parser.add_argument("--unequal-sd", type=float, default=1.5,
                        help="trained group's noise sd in the unequal-variance case")
    parser.add_argument("--grid-mm", type=float, default=6.0)
    parser.add_argument("--fwhm-mm", type=float, default=10.0)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--cluster-forming-p", type=float, default=0.001)
    parser.add_argument("--connectivity", type=int, choices=[6, 18, 26], default=6)
    parser.add_argument("--engine", choices=["ecgap", "nilearn"], default="ecgap")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--out", default="docs/validation/calibration.tsv")
    args = parser.parse_args(argv)
    settings = Inference(n_permutations=args.permutations, alpha=args.alpha,
                         cluster_forming_p=args.cluster_forming_p, engine=args.engine,
                         connectivity=args.connectivity, n_jobs=args.threads)
    cases = [NullCase("equal variance", args.trained, args.control, 1.0),
             NullCase(f"trained sd {args.unequal_sd:g}x", args.trained, args.control,
                      args.unequal_sd)]
    start = time.perf_counter()
    table = calibrate(cases, args.datasets, args.grid_mm, args.fwhm_mm, settings, args.seed)
    description = (f"FWE calibration (python -m ecgap.calibrate): {args.datasets} null data "
                   f"sets per case, {args.trained} + {args.control} subjects, age + BDI "
                   f"covariates, {args.grid_mm:g} mm MNI mask, noise smoothness "
                   f"{args.fwhm_mm:g} mm FWHM, {args.permutations} permutations, engine "
                   f"{args.engine}, one-sided trained > control, alpha {args.alpha:g}; "
                   f"{time.perf_counter() - start:.0f} s")
    write_table(table, args.out, description)
    print(description)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
