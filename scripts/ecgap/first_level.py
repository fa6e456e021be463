"""First level: the subject-session GLM (confounds and motion QC: ``ecgap.confounds``).

Smoothing happens inside ``FirstLevelModel`` (``smoothing_fwhm``): no smoothed 4D copy is
written, which saves the disk and I/O of a second BOLD series per run.
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

from ecgap.design import (FIRST_LEVEL_STATS, Design,  # noqa: F401 (re-exported)
                          first_level_output_name, parametric_name)
from ecgap.io import InputError, read_json, read_tsv

Img = str | Path | nib.Nifti1Image


@dataclass(frozen=True)
class GLMSpec:
    """FirstLevelModel settings."""

    t_r: float
    hrf_model: str = "spm"
    drift_model: str | None = "cosine"
    high_pass: float = 1 / 128
    noise_model: str = "ar1"
    smoothing_fwhm: float | None = 6.0
    slice_time_ref: float = 0.0


#: nilearn's drift_model for each first_level.drift_model (fMRIPrep's cosines are
#: confounds, so nilearn adds no second set).
NILEARN_DRIFT = {"fmriprep_cosines": None, "cosine": "cosine", "none": None}
_DRIFT_WORDS = {"fmriprep_cosines": "fMRIPrep cosine regressors (confounds)",
                "cosine": "nilearn cosine drift", "none": "no high-pass filter"}


def cosine_columns(design: pd.DataFrame) -> list[str]:
    """The design's discrete-cosine high-pass columns (fMRIPrep's or nilearn's)."""
    return [c for c in design.columns if str(c).startswith(("cosine", "drift_"))]


def steady_volumes(design: pd.DataFrame, columns: Sequence[str]) -> int:
    """Volumes the cosines span: fMRIPrep builds them over the steady-state volumes and
    writes 0 in the leading non-steady-state rows (checked on real fMRIPrep output)."""
    if not columns:
        return len(design)
    zero = (design[list(columns)] == 0).all(axis=1).to_numpy()
    leading = int(np.argmin(zero)) if not zero.all() else len(zero)
    return len(design) - leading


def high_pass_record(designs: Sequence[pd.DataFrame], t_r: float, drift_model: str,
                     high_pass: float) -> dict[str, object]:
    """What the GLM's high-pass filter actually is, for the sidecar.

    K discrete cosines over N steady-state volumes (S = 2 N TR seconds) remove
    frequencies up to K / S. For a cut-off period P, fMRIPrep (nipype's ``_cosine_drift``) keeps
    K = floor(S / P) - 1 cosines and nilearn K = floor(S / P), so K pins P to
    (S / (K + 2), S / (K + 1)] or (S / (K + 1), S / K] seconds: the cut-off used.
    """
    shift = 1 if drift_model == "fmriprep_cosines" else 0
    cosines, highest, periods = [], [], []
    for design in designs:
        columns = cosine_columns(design)
        k, span = len(columns), 2 * steady_volumes(design, columns) * t_r
        cosines.append(k)
        highest.append(k / span)
        if k + shift == 0:
            periods.append(None)  # no filter
        else:  # fMRIPrep's K = 0 only says P > S / 2: no upper bound
            periods.append([round(span / (k + shift + 1), 1),
                            round(span / (k + shift), 1) if k else None])
    return {"DriftModel": _DRIFT_WORDS[drift_model],
            "HighPass": high_pass if drift_model == "cosine" else None,
            "HighPassCosines": cosines, "HighPassHighestCosineHz": highest,
            "HighPassCutoffRangeS": periods}


def model_events(events: pd.DataFrame, design: Design, parametric: bool) -> pd.DataFrame:
    """The GLM's events: the design's conditions and nuisance trial types, renamed to
    their regressors; every other event (fixation, ...) is the implicit baseline.

    With ``parametric``, each condition gets one extra regressor per rating
    (``HExEmpathy`` ...): a copy of its events with the rating, mean-centred over that
    condition's events in the run, in nilearn's ``modulation`` column.
    """
    names = design.modelled_trial_types()
    kept = events[events["trial_type"].isin(names)].copy()
    kept["trial_type"] = kept["trial_type"].map(names)
    out = [kept[["onset", "duration", "trial_type"]].assign(modulation=1.0)]
    if parametric:
        for condition in design.condition_names:
            rows = kept[kept["trial_type"] == condition]
            for rating in design.ratings:
                values = pd.to_numeric(rows[rating.column], errors="coerce")
                if values.isna().any():
                    raise InputError("events", f"{rating.column} is n/a for some {condition} "
                                               "events; parametric modulation needs every "
                                               "rating")
                out.append(pd.DataFrame({
                    "onset": rows["onset"], "duration": rows["duration"],
                    "trial_type": f"{condition}x{parametric_name(rating.name)}",
                    "modulation": values - values.mean()}))
    return pd.concat(out, ignore_index=True).sort_values("onset", kind="stable")


def ignored_trial_types(events: pd.DataFrame, design: Design) -> list[str]:
    """trial_type values in ``events`` that the GLM leaves in the implicit baseline
    (fixation, button presses, ...)."""
    modelled = design.modelled_trial_types()
    return sorted(set(events["trial_type"].dropna().astype(str)) - set(modelled))


def fit_first_level(bold: Img | Sequence[Img], mask: Img, events: pd.DataFrame |
                    Sequence[pd.DataFrame], confounds: pd.DataFrame | None |
                    Sequence[pd.DataFrame], spec: GLMSpec) -> FirstLevelModel:
    """Fit nilearn's FirstLevelModel to one session: one run, or a list of runs with
    their events and confounds (one model, fixed effects over runs)."""
    model = FirstLevelModel(
        t_r=spec.t_r, slice_time_ref=spec.slice_time_ref, hrf_model=spec.hrf_model,
        drift_model=spec.drift_model, high_pass=spec.high_pass,
        noise_model=spec.noise_model, smoothing_fwhm=spec.smoothing_fwhm,
        mask_img=in_memory(mask), minimize_memory=True, signal_scaling=0)
    if isinstance(bold, (list, tuple)):
        return model.fit([bold_in_memory(b) for b in bold], events=list(events),
                         confounds=list(confounds))  # type: ignore[arg-type]
    return model.fit(bold_in_memory(bold), events=events, confounds=confounds)


def in_memory(img: Img) -> nib.Nifti1Image:
    """The image with its voxels read once, as nibabel scales them on reading (the mask:
    given a file name, nilearn reads it again for every contrast map)."""
    loaded = load_img(img)
    return nib.Nifti1Image(np.asanyarray(loaded.dataobj), loaded.affine, loaded.header)


def bold_in_memory(img: Img) -> nib.Nifti1Image:
    """A BOLD series read once, as 32-bit floats (nibabel's ``get_fdata(np.float32)``).

    Given a file name, nilearn 0.13's ``FirstLevelModel`` reads and decompresses the
    series three times (the design's scan count, the masker, smoothing). It smooths,
    masks and scales the series to percent signal change at the precision of the array
    (the GLM itself runs in float64): an unscaled float32 file at float32, a scaled
    integer file (int16 with ``scl_slope``, as fMRIPrep often writes) at float64, since
    nibabel scales it to float64 on reading. Here every series is float32: an unscaled
    float32 file gives nilearn's maps on the file bit for bit; a scaled integer file
    gives z maps within about 1e-5 of them, except where a voxel's AR(1) coefficient
    sits at the edge of one of nilearn's 0.01-wide bins (about 1 voxel in 10 000, up to
    0.04 in z). nibabel scales an integer file through a float64 copy, but the job's
    peak comes later, in nilearn's float64 GLM arrays: scaling a volume at a time
    changed neither peak nor time at paper scale (1252 against 1249 MB).
    """
    loaded = load_img(img)
    series = nib.Nifti1Image(loaded.get_fdata(dtype=np.float32), loaded.affine, loaded.header)
    series.set_data_dtype(np.float32)
    return series


def contrast_maps(model: FirstLevelModel,
                  contrasts: Mapping[str, str]) -> dict[str, dict[str, nib.Nifti1Image]]:
    """Effect size, effect variance and z map of every contrast."""
    out = {}
    for name, expression in contrasts.items():
        maps = model.compute_contrast(expression, output_type="all")
        out[name] = {"effect": maps["effect_size"], "variance": maps["effect_variance"],
                     "z": maps["z_score"], "t": maps["stat"]}
    return out


def session_runs(run_ids: Sequence[str], checked: Sequence[str],
                 qc: Sequence[str]) -> pd.DataFrame:
    """One session's runs with their TR, slice-timing reference and QC decision.

    ``modelled`` marks the runs the session's GLM uses: those QC keeps, or every run when
    QC excludes them all (the group level then drops the session, as exclusions.tsv
    says). Runs of one session must share a TR, since one model spans them.
    """
    table = pd.concat([read_tsv(path) for path in checked], ignore_index=True)
    table["run_id"] = list(run_ids)
    table["excluded"] = [bool(read_json(path)["excluded"]) for path in qc]
    table["modelled"] = ~table["excluded"] if not table["excluded"].all() else True
    if table["tr"].nunique() > 1:
        raise InputError(checked[0], f"runs {', '.join(run_ids)} have different TRs "
                                     f"({', '.join(map(str, table['tr']))} s); one "
                                     "session's runs are modelled together")
    return table


def stacked_designs(designs: Sequence[pd.DataFrame], run_ids: Sequence[str]) -> pd.DataFrame:
    """The design matrix of each run, stacked, with a ``run`` column when there are
    several (one run: the design itself)."""
    if len(designs) == 1:
        return designs[0]
    return pd.concat([d.assign(run=r) for d, r in zip(designs, run_ids)]).fillna(0.0)
