"""Confound selection and motion QC of one run (the preprocess_run job).

Confounds are selected with nilearn's ``load_confounds`` strategies; volumes it would
censor (framewise displacement or standardised DVARS above threshold, plus segments
shorter than ``scrub_min_segment``) become one-hot outlier regressors, so the GLM keeps
every volume's timing and AR(1) estimation sees a continuous series.

Kept apart from ``ecgap.first_level`` so that a preprocessing job imports nilearn's
fMRIPrep interface only, not its GLM (about 0.3 s of every run's job).
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
from nilearn.interfaces.fmriprep import load_confounds

from ecgap.io import InputError, read_tsv


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
    """Median over the mask of the voxels' temporal mean / temporal sd.

    Computed from the stored values inside the mask: a series stored as scaled integers
    (fMRIPrep's int16, y = slope * x + inter) has mean(y) = slope * mean(x) + inter and
    sd(y) = |slope| * sd(x), so the whole series is never scaled to floats.
    """
    inside = np.asarray(mask.dataobj) > 0
    if nib.is_proxy(bold.dataobj):
        stored = np.asanyarray(bold.dataobj.get_unscaled())
        slope, inter = float(bold.dataobj.slope), float(bold.dataobj.inter)
    else:
        stored, slope, inter = np.asanyarray(bold.dataobj), 1.0, 0.0
    data = stored[inside].astype(np.float64)
    mean = slope * data.mean(axis=1) + inter
    sd = abs(slope) * data.std(axis=1)
    tsnr = np.divide(mean, sd, out=np.zeros_like(sd), where=sd > 0)
    return float(np.median(tsnr))
