"""First level: confound selection, motion QC and the subject-session GLM.

Confounds are selected with nilearn's ``load_confounds`` strategies; volumes it would
censor (framewise displacement or standardised DVARS above threshold, plus segments
shorter than ``scrub_min_segment``) become one-hot outlier regressors, so the GLM keeps
every volume's timing and AR(1) estimation sees a continuous series. Smoothing happens
inside ``FirstLevelModel`` (``smoothing_fwhm``): no smoothed 4D copy is written, which
saves the disk and I/O of a second BOLD series per run.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.glm.first_level import FirstLevelModel
from nilearn.image import load_img
from nilearn.interfaces.fmriprep import load_confounds

from ecgap.design import (FIRST_LEVEL_STATS, Design,  # noqa: F401 (re-exported)
                          first_level_output_name, parametric_name)
from ecgap.io import InputError, read_json, read_tsv

Img = str | Path | nib.Nifti1Image


@dataclass(frozen=True)
class ConfoundSpec:
    """How confounds are chosen (nilearn ``load_confounds`` arguments) and scrubbing."""

    strategy: tuple[str, ...] = ("motion", "high_pass", "wm_csf")
    motion: str = "full"
    wm_csf: str = "basic"
    global_signal: str = "basic"
    compcor: str = "anat_combined"
    n_compcor: int | str = 5
    fd_threshold: float | None = 0.5
    std_dvars_threshold: float | None = 1.5
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


#: Columns each expansion adds to a base signal (nilearn ``load_confounds``).
_EXPANSIONS = {"basic": ("",), "power2": ("", "_power2"),
               "derivatives": ("", "_derivative1"),
               "full": ("", "_power2", "_derivative1", "_derivative1_power2")}
_MOTION = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")
_COMPCOR = {"anat_combined": ("a_comp_cor_",), "anat_separated": ("c_comp_cor_", "w_comp_cor_"),
            "temporal": ("t_comp_cor_",),
            "temporal_anat_combined": ("t_comp_cor_", "a_comp_cor_"),
            "temporal_anat_separated": ("t_comp_cor_", "c_comp_cor_", "w_comp_cor_")}


def required_confounds(spec: ConfoundSpec) -> list[tuple[str, str]]:
    """The confounds columns (or column prefixes, ending in ``_``/``cosine``) that the
    strategy and scrubbing read, each with the config key that decides it."""
    key = "preprocess.confounds"
    need: list[tuple[str, str]] = []
    for part, bases, expansion in (("motion", _MOTION, spec.motion),
                                   ("wm_csf", ("csf", "white_matter"), spec.wm_csf),
                                   ("global_signal", ("global_signal",), spec.global_signal)):
        if part in spec.strategy:
            need += [(b + e, f"{key}.{part} or {key}.strategy")
                     for b in bases for e in _EXPANSIONS[expansion]]
    if "high_pass" in spec.strategy:
        need.append(("cosine", f"{key}.strategy (drop high_pass and set "
                               "first_level.drift_model: cosine)"))
    if "compcor" in spec.strategy:
        need += [(prefix, f"{key}.compcor or {key}.strategy") for prefix in _COMPCOR[spec.compcor]]
    need.append(("framewise_displacement", "preprocess.fd_threshold (motion QC needs it too)"))
    if spec.std_dvars_threshold is not None:
        need.append(("std_dvars", "preprocess.std_dvars_threshold (null turns DVARS "
                                  "scrubbing off)"))
    return need


def check_confound_columns(columns: Sequence[str], spec: ConfoundSpec,
                           path: str | Path) -> None:
    """Raise an InputError naming the file, the first missing column and the config key."""
    for column, key in required_confounds(spec):
        prefix = column.endswith("_") or column == "cosine"
        if not any(c.startswith(column) if prefix else c == column for c in columns):
            what = f"columns starting with {column!r}" if prefix else f"column {column!r}"
            raise InputError(path, f"confounds table lacks {what}, which the confound "
                                   f"strategy or scrubbing needs; change {key}")


@contextmanager
def staged_confounds(confounds: str | Path, confounds_json: str | Path | None,
                     spec: ConfoundSpec) -> Iterator[Path]:
    """A scratch folder in which nilearn's ``load_confounds`` finds the run's confounds.

    nilearn locates the confounds by the BOLD file's name, which fails for names it does
    not expect (uncompressed ``.nii``, ``run-1`` beside ``run-01``, other entity sets).
    We give it canonical names that link to the real files (read only); with DVARS
    scrubbing off, a table without ``std_dvars`` gets a zero column in a scratch copy.
    Yields the canonical BOLD path to pass to ``load_confounds``.
    """
    with tempfile.TemporaryDirectory(prefix="ecgap-confounds-") as scratch:
        root = Path(scratch)
        table = root / "sub-0_task-0_desc-confounds_timeseries.tsv"
        columns = pd.read_csv(confounds, sep="\t", nrows=0).columns
        if spec.std_dvars_threshold is None and "std_dvars" not in columns:
            read_tsv(confounds).assign(std_dvars=0.0).to_csv(table, sep="\t", index=False,
                                                             na_rep="n/a")
        else:
            table.symlink_to(Path(confounds).resolve())
        if confounds_json and Path(confounds_json).is_file():
            table.with_suffix(".json").symlink_to(Path(confounds_json).resolve())
        bold = root / "sub-0_task-0_desc-preproc_bold.nii.gz"
        bold.touch()  # load_confounds checks the name only
        yield bold


def select_confounds(confounds: str | Path, confounds_json: str | Path | None,
                     spec: ConfoundSpec) -> tuple[pd.DataFrame, np.ndarray]:
    """Confound regressors for one run and the boolean mask of scrubbed volumes.

    Parameters
    ----------
    confounds, confounds_json : path
        fMRIPrep's confounds table and its sidecar (``desc-confounds_timeseries`` or,
        before fMRIPrep 20.2, ``desc-confounds_regressors``).
    spec : ConfoundSpec
        The strategy and scrubbing thresholds.

    Returns
    -------
    confounds : pandas.DataFrame
        The selected regressors plus one ``scrubNNN`` outlier column per scrubbed volume.
    scrubbed : numpy.ndarray of bool
        Which volumes were scrubbed.
    """
    check_confound_columns(list(pd.read_csv(confounds, sep="\t", nrows=0).columns), spec,
                           confounds)
    strategy = tuple(spec.strategy)
    scrub = spec.fd_threshold is not None and "scrub" not in strategy
    if scrub:
        strategy = strategy + ("scrub",)
    dvars = np.inf if spec.std_dvars_threshold is None else spec.std_dvars_threshold
    try:
        with staged_confounds(confounds, confounds_json, spec) as bold:
            selected, sample_mask = load_confounds(
                str(bold), strategy=strategy, motion=spec.motion, wm_csf=spec.wm_csf,
                global_signal=spec.global_signal, compcor=spec.compcor,
                n_compcor=spec.n_compcor, scrub=spec.scrub_min_segment,
                fd_threshold=spec.fd_threshold, std_dvars_threshold=dvars, demean=True)
    except (ValueError, KeyError, FileNotFoundError) as err:
        raise InputError(confounds, f"confound selection failed: {err}") from err
    n_vols = len(selected)
    scrubbed = np.ones(n_vols, dtype=bool)
    if sample_mask is None:
        scrubbed[:] = False
    else:
        scrubbed[np.asarray(sample_mask)] = False
    outliers = pd.DataFrame({f"scrub{i:03d}": (np.arange(n_vols) == v).astype(float)
                             for i, v in enumerate(np.flatnonzero(scrubbed))},
                            index=selected.index)
    return pd.concat([selected, outliers], axis=1), scrubbed


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
        return model.fit([in_memory(b) for b in bold], events=list(events),
                         confounds=list(confounds))  # type: ignore[arg-type]
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
