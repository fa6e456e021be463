"""Simulated fMRIPrep-style derivatives for one run, with planted training effects.

Signal model per voxel (all amplitudes in percent of the voxel's baseline):
task responses to HE and LE videos and rating periods (SPM canonical HRF), training
effects in the planted regions for the affect group, a run-specific perturbation of
the task response, AR(1) noise, slow drift, a global physiological fluctuation that
loads on CSF and white matter, and motion-related signal with spikes at high-motion
volumes. The confounds table is computed from the simulated data as fMRIPrep would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

from ecgap.regions import (DELTA1_REGIONS, DELTA2_REGIONS, TASK_REGIONS, region_map,
                           simulation_grid, smooth_field)

FD_OUTLIER = 0.5          # fMRIPrep's default motion-outlier thresholds
STD_DVARS_OUTLIER = 1.5
HEAD_RADIUS_MM = 50.0     # rotation to displacement, as in Power et al. (2012)
SUPPORT_FRACTION = 0.05   # a planted region's support: its effect >= 5 % of the peak


@dataclass(frozen=True)
class ImagingParams:
    """Planted imaging effects and nuisance amplitudes (percent signal change)."""

    task_pct: float = 1.5
    he_extra: float = 0.4
    rating_pct: float = 1.0
    delta1_pct: float = 1.8
    delta1_le_fraction: float = 0.75
    delta2_pct: float = 1.3
    delta2_le_fraction: float = 1.0
    region_fwhm_mm: float = 12.0
    subject_sd: float = 0.3
    amcc_gain_sd: float = 0.5
    amcc_empathy_r: float = 0.95
    run_sd_pct: float = 0.15
    noise_pct: float = 1.0
    ar1: float = 0.3
    drift_pct: float = 1.0
    physio_pct: float = 0.4
    motion_pct: float = 0.3


def planted_maps(mask: nib.Nifti1Image, params: ImagingParams) -> dict[str, np.ndarray]:
    """Unit-peak maps of the task-responsive, delta1 and delta2 regions."""
    return {
        "task": region_map(mask, TASK_REGIONS, 2 * params.region_fwhm_mm),
        "delta1_insula": region_map(mask, {k: v for k, v in DELTA1_REGIONS.items()
                                           if k != "aMCC"}, params.region_fwhm_mm),
        "delta1_amcc": region_map(mask, {"aMCC": DELTA1_REGIONS["aMCC"]}, params.region_fwhm_mm),
        "delta2": region_map(mask, DELTA2_REGIONS, params.region_fwhm_mm),
    }


def subject_gains(subjects: pd.DataFrame, affect_label: str, params: ImagingParams,
                  seed: int) -> pd.DataFrame:
    """Per-subject multipliers of the planted training effects (0 for the memory group).

    The aMCC delta1 gain has its own spread (``amcc_gain_sd``) and correlates
    (r = ``amcc_empathy_r``) with the subject's reported delta1 empathy change (the
    rating change the brain-behaviour analysis regresses on), the link that analysis
    finds. It is not clipped at 0: a subject whose reported empathy fell gets an aMCC
    decrease, which keeps the link linear.
    """
    rng = np.random.default_rng([seed, 7])
    affect = (subjects["group"] == affect_label).to_numpy()
    emp = subjects["empathy_delta1_reported"].to_numpy(dtype=float)
    z = np.zeros_like(emp)
    if affect.sum() > 1:
        z[affect] = (emp[affect] - emp[affect].mean()) / emp[affect].std()
    r = params.amcc_empathy_r
    n = len(subjects)
    amcc = 1 + params.amcc_gain_sd * (r * z + np.sqrt(1 - r ** 2) * rng.standard_normal(n))
    out = pd.DataFrame({
        "participant_id": subjects["participant_id"],
        "group": subjects["group"],
        "gain_insula": np.clip(1 + params.subject_sd * rng.standard_normal(n), 0, None),
        "gain_amcc": amcc,
        "gain_delta2": np.clip(1 + params.subject_sd * rng.standard_normal(n), 0, None),
    })
    for col in ("gain_insula", "gain_amcc", "gain_delta2"):
        out[col] = np.where(affect, out[col], 0.0)
    return out


def simulate_motion(n_vols: int, high_motion: bool, rng: np.random.Generator) -> pd.DataFrame:
    """Six rigid-body parameters (mm, rad): random walk, plus spikes if ``high_motion``."""
    scale = 3.0 if high_motion else 1.0
    steps = rng.normal(0, 1, (n_vols, 6)) * np.array([0.03] * 3 + [0.0005] * 3) * scale
    steps[0] = 0
    motion = np.cumsum(steps, axis=0)
    if high_motion:
        spikes = rng.random(n_vols) < 0.15
        motion[spikes] += rng.normal(0, 1, (spikes.sum(), 6)) * np.array([0.4] * 3 + [0.006] * 3)
    return pd.DataFrame(motion, columns=["trans_x", "trans_y", "trans_z",
                                         "rot_x", "rot_y", "rot_z"])


def framewise_displacement(motion: pd.DataFrame) -> np.ndarray:
    """Power et al. (2012) FD; NaN for the first volume, as fMRIPrep writes it."""
    diff = motion.diff().abs().to_numpy()
    diff[:, 3:] *= HEAD_RADIUS_MM
    fd = diff.sum(axis=1)
    fd[0] = np.nan
    return fd


def cosine_basis(n_vols: int, tr: float, cutoff_s: float = 128.0) -> np.ndarray:
    """fMRIPrep's discrete cosine high-pass basis (without the constant).

    fMRIPrep (nipype's ``_cosine_drift``) keeps floor(2 N TR / cutoff) - 1 cosines, one
    fewer than nilearn's cosine drift at the same cut-off.
    """
    n_basis = max(int(np.floor(2 * n_vols * tr / cutoff_s)), 1) - 1
    t = np.arange(n_vols)
    return np.stack([np.sqrt(2 / n_vols) * np.cos(np.pi * (2 * t + 1) * k / (2 * n_vols))
                     for k in range(1, n_basis + 1)], axis=1).reshape(n_vols, n_basis)


def task_regressors(events: pd.DataFrame, n_vols: int, tr: float) -> pd.DataFrame:
    """HE, LE and rating regressors convolved with the SPM canonical HRF (one row per
    volume)."""
    # Imported here: the workflow computes every run's regressors in one job
    # (simulate_regressors), so the per-run simulate_run jobs need not import nilearn.
    from nilearn.glm.first_level import make_first_level_design_matrix

    frame_times = np.arange(n_vols) * tr
    ev = events[events["trial_type"].isin(["HE", "LE", "rating"])][
        ["onset", "duration", "trial_type"]]
    dm = make_first_level_design_matrix(frame_times, ev, hrf_model="spm", drift_model=None)
    return dm[["HE", "LE", "rating"]]


def simulate_run(
    events: pd.DataFrame, gains: pd.Series, session_index: int, high_motion: bool,
    params: ImagingParams, grid_mm: float, tr: float, n_vols: int, seed: list[int],
    grid: Sequence[nib.Nifti1Image] | None = None, regressors: pd.DataFrame | None = None,
) -> tuple[nib.Nifti1Image, nib.Nifti1Image, pd.DataFrame, dict[str, Any]]:
    """Simulate one run: preprocessed BOLD, brain mask, confounds table and sidecar.

    ``grid`` is :func:`~ecgap.regions.simulation_grid` at ``grid_mm`` (mask, grey- and
    white-matter images) when the caller has it: resampling the templates costs more
    than simulating a run at 4 mm, so the workflow does it once for the whole study.
    ``regressors`` are the run's :func:`task_regressors` when the caller has them (the
    workflow computes them for every run in one job); computed here otherwise.
    """
    rng = np.random.default_rng(seed)
    mask_img, gm_img, wm_img = grid if grid is not None else simulation_grid(grid_mm)
    if not np.allclose(mask_img.header.get_zooms()[:3], grid_mm):
        raise ValueError(f"the simulation grid has voxels of {mask_img.header.get_zooms()[:3]}"
                         f" mm, not {grid_mm} mm")
    mask = np.asarray(mask_img.dataobj) > 0
    gm, wm = np.asarray(gm_img.dataobj)[mask], np.asarray(wm_img.dataobj)[mask]
    maps = {k: v[mask] for k, v in planted_maps(mask_img, params).items()}
    x = task_regressors(events, n_vols, tr) if regressors is None else regressors
    if len(x) != n_vols:
        raise ValueError(f"{len(x)} rows of task regressors for a run of {n_vols} volumes")

    # Task response (percent signal change), including training effects.
    he_amp = params.task_pct * (1 + params.he_extra) * maps["task"]
    le_amp = params.task_pct * maps["task"]
    if session_index >= 1:
        d1 = params.delta1_pct * (gains["gain_insula"] * maps["delta1_insula"]
                                  + gains["gain_amcc"] * maps["delta1_amcc"])
        he_amp = he_amp + d1
        le_amp = le_amp + params.delta1_le_fraction * d1
    if session_index >= 2:
        d2 = params.delta2_pct * gains["gain_delta2"] * maps["delta2"]
        he_amp = he_amp + d2
        le_amp = le_amp + params.delta2_le_fraction * d2
    run_field = params.run_sd_pct * smooth_field(mask.shape, 1.0, rng)[mask]
    signal = (np.outer(x["HE"], he_amp + run_field) + np.outer(x["LE"], le_amp + run_field)
              + np.outer(x["rating"], params.rating_pct * maps["task"]))

    # Nuisance: AR(1) noise, drift, physiology, motion.
    signal += params.noise_pct * _ar1_noise(mask, n_vols, params.ar1, rng)
    t = np.arange(n_vols) / n_vols
    for k in (1, 2):
        signal += params.drift_pct / k * np.outer(np.cos(np.pi * k * t),
                                                   smooth_field(mask.shape, 3.0, rng)[mask])
    csf_like = np.clip(1 - gm - wm, 0, 1)
    physio = _ar1_series(n_vols, 0.8, rng)
    signal += params.physio_pct * np.outer(physio, 0.3 + 2.0 * csf_like + 0.5 * wm)
    motion = simulate_motion(n_vols, high_motion, rng)
    loadings = np.stack([smooth_field(mask.shape, 2.0, rng)[mask] for _ in range(6)])
    scaled = (motion - motion.mean()) / np.array([0.1] * 3 + [0.002] * 3)
    signal += params.motion_pct * scaled.to_numpy() @ loadings
    fd = np.nan_to_num(framewise_displacement(motion))
    signal -= np.outer(np.clip(fd - 0.3, 0, None), 2.0 * (1.0 + csf_like))

    baseline = 600 + 400 * gm + 250 * wm
    data = baseline * (1 + signal / 100)
    bold = np.zeros(mask.shape + (n_vols,), dtype=np.float32)
    bold[mask] = data.T
    bold_img = nib.Nifti1Image(bold, mask_img.affine)
    bold_img.set_data_dtype(np.int16)
    bold_img.header.set_xyzt_units("mm", "sec")
    bold_img.header.set_zooms((grid_mm, grid_mm, grid_mm, tr))
    out_mask = nib.Nifti1Image(mask.astype(np.uint8), mask_img.affine)
    confounds, sidecar = compute_confounds(data, motion, gm, wm, tr)
    return bold_img, out_mask, confounds, sidecar


def _ar1_series(n: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    e = rng.standard_normal(n)
    out = np.empty(n)
    out[0] = e[0]
    for i in range(1, n):
        out[i] = rho * out[i - 1] + np.sqrt(1 - rho ** 2) * e[i]
    return out


def _ar1_noise(mask: np.ndarray, n_vols: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance AR(1) noise, lightly smooth in space, shape (n_vols, n_voxels)."""
    white = rng.standard_normal((n_vols,) + mask.shape).astype(np.float32)
    white = ndimage.gaussian_filter(white, sigma=(0, 0.6, 0.6, 0.6))[:, mask]
    white /= white.std()
    out = np.empty_like(white)
    out[0] = white[0]
    scale = np.sqrt(1 - rho ** 2)
    for i in range(1, n_vols):
        out[i] = rho * out[i - 1] + scale * white[i]
    return out


# --------------------------------------------------------------------------- confounds

def _expansions(df: pd.DataFrame) -> pd.DataFrame:
    """fMRIPrep's derivative1, power2 and derivative1_power2 columns."""
    out = {}
    for col in df.columns:
        deriv = df[col].diff()
        out[col] = df[col]
        out[f"{col}_derivative1"] = deriv
        out[f"{col}_power2"] = df[col] ** 2
        out[f"{col}_derivative1_power2"] = deriv ** 2
    return pd.DataFrame(out)


def _compcor(ts: np.ndarray, basis: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n`` principal components of high-pass-filtered, variance-normalised series."""
    design = np.column_stack([np.ones(len(ts)), np.linspace(-1, 1, len(ts)), basis])
    resid = ts - design @ np.linalg.lstsq(design, ts, rcond=None)[0]
    resid /= resid.std(axis=0) + 1e-12
    # The left singular vectors from the volumes x volumes Gram matrix: the SVD's
    # components up to sign (the leading ones to ~1e-10; the Gram matrix squares the
    # condition number, which only the negligible trailing ones feel), tens of times
    # faster when voxels outnumber volumes, as they do in the CompCor masks.
    eigenvalues, eigenvectors = np.linalg.eigh(resid @ resid.T)
    order = np.argsort(eigenvalues)[::-1][:min(resid.shape)]
    s = np.sqrt(np.clip(eigenvalues[order], 0, None))
    u = eigenvectors[:, order[:n]]
    # A component's sign is arbitrary: make its largest value positive, for determinism.
    u = u * np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    return u, s


def compute_confounds(data: np.ndarray, motion: pd.DataFrame, gm: np.ndarray, wm: np.ndarray,
                      tr: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """An fMRIPrep-style confounds table and its JSON sidecar from simulated data."""
    n_vols = data.shape[0]
    csf_mask = (gm + wm) < 0.35
    wm_mask = wm > 0.8
    signals = pd.DataFrame({
        "global_signal": data.mean(axis=1),
        "csf": data[:, csf_mask].mean(axis=1),
        "white_matter": data[:, wm_mask].mean(axis=1),
    })
    diff = np.diff(data, axis=0)
    dvars = np.r_[np.nan, np.sqrt((diff ** 2).mean(axis=1))]
    fd = framewise_displacement(motion)
    std_dvars = dvars / np.nanmedian(dvars)
    basis = cosine_basis(n_vols, tr)

    columns: dict[str, np.ndarray] = {
        "framewise_displacement": fd, "dvars": dvars, "std_dvars": std_dvars,
        "rmsd": np.r_[np.nan, np.sqrt((motion.diff().iloc[1:, :3] ** 2).sum(axis=1))],
    }
    sidecar: dict[str, Any] = {}
    for prefix, voxels, mask_name, n in (("a", csf_mask | wm_mask, "combined", 6),
                                         ("w", wm_mask, "WM", 5), ("c", csf_mask, "CSF", 5)):
        comps, s = _compcor(data[:, voxels], basis, n)
        explained = s ** 2 / (s ** 2).sum()
        for i in range(comps.shape[1]):
            name = f"{prefix}_comp_cor_{i:02d}"
            columns[name] = comps[:, i]
            sidecar[name] = {"Method": "aCompCor", "Mask": mask_name, "Retained": True,
                             "SingularValue": float(s[i]),
                             "VarianceExplained": float(explained[i]),
                             "CumulativeVarianceExplained": float(explained[:i + 1].sum())}
    variance = data.var(axis=0)
    top = variance >= np.quantile(variance, 0.98)
    comps, s = _compcor(data[:, top], basis, 3)
    for i in range(comps.shape[1]):
        columns[f"t_comp_cor_{i:02d}"] = comps[:, i]
        sidecar[f"t_comp_cor_{i:02d}"] = {"Method": "tCompCor", "Retained": True,
                                          "SingularValue": float(s[i])}
    for i in range(basis.shape[1]):
        columns[f"cosine{i:02d}"] = basis[:, i]
    outliers = np.flatnonzero((np.nan_to_num(fd) > FD_OUTLIER)
                              | (np.nan_to_num(std_dvars) > STD_DVARS_OUTLIER))
    for i, vol in enumerate(outliers):
        columns[f"motion_outlier{i:02d}"] = (np.arange(n_vols) == vol).astype(float)
    table = pd.concat([_expansions(signals), _expansions(motion),
                       pd.DataFrame(columns)], axis=1)
    return table, sidecar


# --------------------------------------------------------------------------- truth

def truth_images(params: ImagingParams, grid_mm: float) -> dict[str, nib.Nifti1Image]:
    """Planted effect maps (percent signal change at mean gain) and a region label map.

    ``delta1HE`` etc. are the affect group's expected change of the HE/LE response;
    the memory group's expected change is zero everywhere.
    """
    mask_img, _, _ = simulation_grid(grid_mm)
    maps = planted_maps(mask_img, params)
    d1 = params.delta1_pct * (maps["delta1_insula"] + maps["delta1_amcc"])
    d2 = params.delta2_pct * maps["delta2"]
    effects = {
        "taskLE": params.task_pct * maps["task"],
        "taskHE": params.task_pct * (1 + params.he_extra) * maps["task"],
        "delta1HE": d1, "delta1LE": params.delta1_le_fraction * d1,
        "delta2HE": d2, "delta2LE": params.delta2_le_fraction * d2,
    }
    out = {name: nib.Nifti1Image(data.astype(np.float32), mask_img.affine)
           for name, data in effects.items()}
    labels = np.zeros(mask_img.shape, dtype=np.int16)
    blobs = np.stack([region_map(mask_img, {name: centre}, params.region_fwhm_mm)
                      for name, centre in planted_regions().items()])
    for index, blob in enumerate(blobs, start=1):
        labels[(blob >= 0.5) & (labels == 0)] = index
    out["regions"] = nib.Nifti1Image(labels, mask_img.affine)
    # Where each region's effect is at least SUPPORT_FRACTION of its peak (the voxel
    # goes to the region whose blob is largest there): what 6 mm smoothing can reach.
    support = np.where(blobs.max(axis=0) >= SUPPORT_FRACTION, blobs.argmax(axis=0) + 1, 0)
    out["support"] = nib.Nifti1Image(support.astype(np.int16), mask_img.affine)
    return out


def planted_regions() -> dict[str, tuple[float, float, float]]:
    """All training-effect regions, delta1 first, in label order."""
    return {**DELTA1_REGIONS, **DELTA2_REGIONS}


def regions_table() -> pd.DataFrame:
    """Label, name, MNI centre and change period of each planted region."""
    rows = []
    for index, (name, (x, y, z)) in enumerate(planted_regions().items(), start=1):
        rows.append({"index": index, "name": name, "x": x, "y": y, "z": z,
                     "delta": "delta1" if name in DELTA1_REGIONS else "delta2"})
    return pd.DataFrame(rows)
