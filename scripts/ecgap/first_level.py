"""First level: confound selection, motion QC and the subject-session GLM.

Confounds are selected with nilearn's ``load_confounds`` strategies; volumes it would
censor (framewise displacement or standardised DVARS above threshold, plus segments
shorter than ``scrub_min_segment``) become one-hot outlier regressors, so the GLM keeps
every volume's timing and AR(1) estimation sees a continuous series. Smoothing happens
inside ``FirstLevelModel`` (``smoothing_fwhm``): no smoothed 4D copy is written, which
saves the disk and I/O of a second BOLD series per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.glm.first_level import FirstLevelModel
from nilearn.image import load_img
from nilearn.interfaces.fmriprep import load_confounds

from ecgap.io import InputError

#: The SoVT contrasts, each against the implicit fixation baseline.
SOVT_CONTRASTS = {
    "HE": "HE",
    "LE": "LE",
    "HEMinusLE": "HE - LE",
    "meanHELE": "0.5 * HE + 0.5 * LE",
}

#: The maps written per contrast (BIDS ``stat-`` entity).
FIRST_LEVEL_STATS = ("effect", "variance", "z")


def first_level_output_name(contrast: str, stat: str) -> str:
    """Snakemake output name of one contrast's map, e.g. ``HE_effect``."""
    return f"{contrast}_{stat}"


@dataclass(frozen=True)
class ConfoundSpec:
    """How confounds are chosen (nilearn ``load_confounds`` arguments) and scrubbing."""

    strategy: tuple[str, ...] = ("motion", "high_pass", "wm_csf")
    motion: str = "full"
    wm_csf: str = "basic"
    global_signal: str = "basic"
    compcor: str = "anat_combined"
    n_compcor: int | str = 5
    fd_threshold: float = 0.5
    std_dvars_threshold: float = 1.5
    scrub_min_segment: int = 5

    @classmethod
    def from_config(cls, cfg: Mapping[str, object]) -> "ConfoundSpec":
        values = dict(cfg)
        values["strategy"] = tuple(values["strategy"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class QCLimits:
    """When a run is excluded."""

    max_scrubbed_fraction: float = 0.25
    max_mean_fd: float = 0.5


@dataclass(frozen=True)
class GLMSpec:
    """FirstLevelModel settings."""

    t_r: float
    hrf_model: str = "spm"
    drift_model: str | None = "cosine"
    high_pass: float = 1 / 128
    noise_model: str = "ar1"
    smoothing_fwhm: float | None = 6.0


def select_confounds(bold: str | Path, spec: ConfoundSpec) -> tuple[pd.DataFrame, np.ndarray]:
    """Confound regressors for one run and the boolean mask of scrubbed volumes.

    ``bold`` is the fMRIPrep preproc BOLD path; nilearn finds the confounds table beside
    it by name (the image itself is not read).
    """
    strategy = tuple(spec.strategy)
    scrub = spec.fd_threshold is not None and "scrub" not in strategy
    if scrub:
        strategy = strategy + ("scrub",)
    try:
        confounds, sample_mask = load_confounds(
            str(bold), strategy=strategy, motion=spec.motion, wm_csf=spec.wm_csf,
            global_signal=spec.global_signal, compcor=spec.compcor,
            n_compcor=spec.n_compcor, scrub=spec.scrub_min_segment,
            fd_threshold=spec.fd_threshold, std_dvars_threshold=spec.std_dvars_threshold,
            demean=True)
    except (ValueError, FileNotFoundError) as err:
        raise InputError(bold, f"confound selection failed: {err}") from err
    n_vols = len(confounds)
    scrubbed = np.ones(n_vols, dtype=bool)
    if sample_mask is None:
        scrubbed[:] = False
    else:
        scrubbed[np.asarray(sample_mask)] = False
    outliers = pd.DataFrame({f"scrub{i:03d}": (np.arange(n_vols) == v).astype(float)
                             for i, v in enumerate(np.flatnonzero(scrubbed))},
                            index=confounds.index)
    return pd.concat([confounds, outliers], axis=1), scrubbed


def motion_qc(raw_confounds: pd.DataFrame, scrubbed: np.ndarray,
              limits: QCLimits) -> dict[str, object]:
    """Mean and max FD, scrubbed fraction and the exclusion decision with its reason."""
    if "framewise_displacement" not in raw_confounds:
        raise InputError("confounds", "no framewise_displacement column")
    fd = pd.to_numeric(raw_confounds["framewise_displacement"], errors="coerce")
    mean_fd, max_fd = float(fd.mean(skipna=True)), float(fd.max(skipna=True))
    fraction = float(scrubbed.mean())
    reasons = []
    if fraction > limits.max_scrubbed_fraction:
        reasons.append(f"scrubbed fraction {fraction:.2f} > {limits.max_scrubbed_fraction}")
    if mean_fd > limits.max_mean_fd:
        reasons.append(f"mean FD {mean_fd:.2f} mm > {limits.max_mean_fd} mm")
    return {"mean_fd": mean_fd, "max_fd": max_fd, "n_volumes": int(len(scrubbed)),
            "n_scrubbed": int(scrubbed.sum()), "scrubbed_fraction": fraction,
            "excluded": bool(reasons), "reason": "; ".join(reasons)}


def temporal_snr(bold: nib.Nifti1Image, mask: nib.Nifti1Image) -> float:
    """Median over the mask of the voxels' temporal mean / temporal sd."""
    data = np.asarray(bold.dataobj, dtype=np.float32)[np.asarray(mask.dataobj) > 0]
    sd = data.std(axis=1)
    tsnr = np.divide(data.mean(axis=1), sd, out=np.zeros_like(sd), where=sd > 0)
    return float(np.median(tsnr))


def sovt_events(events: pd.DataFrame, trial_types: Mapping[str, str],
                ratings: Mapping[str, str], parametric: bool) -> pd.DataFrame:
    """The GLM's events: HE and LE videos, rating periods; fixation is the baseline.

    With ``parametric``, each video type gets one extra regressor per rating
    (``HExempathy`` ...): a copy of its events with the rating, mean-centred over that
    type's videos in the run, in nilearn's ``modulation`` column.
    """
    names = {trial_types["he"]: "HE", trial_types["le"]: "LE",
             trial_types["rating"]: "rating"}
    kept = events[events["trial_type"].isin(names)].copy()
    kept["trial_type"] = kept["trial_type"].map(names)
    out = [kept[["onset", "duration", "trial_type"]].assign(modulation=1.0)]
    if parametric:
        for video in ("HE", "LE"):
            rows = kept[kept["trial_type"] == video]
            for rating, column in ratings.items():
                values = pd.to_numeric(rows[column], errors="coerce")
                if values.isna().any():
                    raise InputError("events", f"{column} is n/a for some {video} videos; "
                                               "parametric modulation needs every rating")
                out.append(pd.DataFrame({
                    "onset": rows["onset"], "duration": rows["duration"],
                    "trial_type": f"{video}x{parametric_name(rating)}",
                    "modulation": values - values.mean()}))
    return pd.concat(out, ignore_index=True).sort_values("onset", kind="stable")


def parametric_name(rating: str) -> str:
    """``positive_affect`` -> ``PositiveAffect`` (a regressor/contrast-safe name)."""
    return "".join(part.capitalize() for part in rating.split("_"))


def sovt_contrasts(parametric: bool, ratings: Sequence[str]) -> dict[str, str]:
    """Contrast name -> nilearn expression; with parametric modulators, one per modulator."""
    contrasts = dict(SOVT_CONTRASTS)
    if parametric:
        for video in ("HE", "LE"):
            for rating in ratings:
                name = f"{video}x{parametric_name(rating)}"
                contrasts[name] = name
    return contrasts


def fit_first_level(bold: str | Path | nib.Nifti1Image, mask: str | Path | nib.Nifti1Image,
                    events: pd.DataFrame, confounds: pd.DataFrame | None,
                    spec: GLMSpec) -> FirstLevelModel:
    """Fit nilearn's FirstLevelModel to one run."""
    model = FirstLevelModel(
        t_r=spec.t_r, hrf_model=spec.hrf_model, drift_model=spec.drift_model,
        high_pass=spec.high_pass, noise_model=spec.noise_model,
        smoothing_fwhm=spec.smoothing_fwhm, mask_img=in_memory(mask), minimize_memory=True,
        signal_scaling=0)
    return model.fit(in_memory(bold), events=events, confounds=confounds)


def in_memory(img: str | Path | nib.Nifti1Image) -> nib.Nifti1Image:
    """The image with its voxels read once, as nibabel scales them on reading.

    Given a file name, nilearn 0.13's ``FirstLevelModel`` reads and decompresses the BOLD
    series three times (the design's scan count, the masker, smoothing) and the mask again
    for every contrast map; handing it the array instead gives bit-identical maps with a
    third of the reading (about 2 s of a 3 mm paper-scale run's 10 s fit).
    """
    loaded = load_img(img)
    return nib.Nifti1Image(np.asanyarray(loaded.dataobj), loaded.affine, loaded.header)


def contrast_maps(model: FirstLevelModel,
                  contrasts: Mapping[str, str]) -> dict[str, dict[str, nib.Nifti1Image]]:
    """Effect size, effect variance and z map of every contrast."""
    out = {}
    for name, expression in contrasts.items():
        maps = model.compute_contrast(expression, output_type="all")
        out[name] = {"effect": maps["effect_size"], "variance": maps["effect_variance"],
                     "z": maps["z_score"], "t": maps["stat"]}
    return out
