"""Simulated fMRIPrep-style derivatives for one run, with planted training effects.

Signal model per voxel (all amplitudes in percent of the voxel's baseline):
task responses to the design's conditions and nuisance events (SPM canonical HRF),
training changes in planted regions for the groups the config names
(``simulate.imaging.changes``), a run-specific perturbation of the task response,
AR(1) noise, slow drift, a global physiological fluctuation that loads on CSF and white
matter, and motion-related signal with spikes at high-motion volumes. The confounds
table is computed from the simulated data as fMRIPrep would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

from ecgap.design import Design
from ecgap.regions import REGION_SETS, TASK_REGIONS, region_map, simulation_grid, smooth_field

FD_OUTLIER = 0.5          # fMRIPrep's default motion-outlier thresholds
STD_DVARS_OUTLIER = 1.5
HEAD_RADIUS_MM = 50.0     # rotation to displacement, as in Power et al. (2012)
SUPPORT_FRACTION = 0.05   # a planted region's support: its effect >= 5 % of the peak


@dataclass(frozen=True)
class ImagingParams:
    """Planted imaging effects and nuisance amplitudes (percent signal change)."""

    changes: Sequence[Mapping[str, Any]] = ()
    link: Mapping[str, Any] | None = None
    condition_extra: Mapping[str, float] = field(default_factory=dict)
    task_pct: float = 1.5
    nuisance_pct: float = 1.0
    region_fwhm_mm: float = 12.0
    subject_sd: float = 0.3
    run_sd_pct: float = 0.15
    noise_pct: float = 1.0
    ar1: float = 0.3
    drift_pct: float = 1.0
    physio_pct: float = 0.4
    motion_pct: float = 0.3


def link_change(params: ImagingParams) -> Mapping[str, Any] | None:
    """The change whose regions hold the brain-behaviour link's region (None without a
    link)."""
    link = params.link
    if link is None:
        return None
    return next(c for c in params.changes
                if c["step"] == link["step"] and link["region"] in REGION_SETS[c["regions"]])


def gain_column(name: str) -> str:
    """imaging_subjects.tsv column of a change's (or the link region's) gain."""
    return f"gain_{name}"


def planted_maps(mask: nib.Nifti1Image, params: ImagingParams) -> dict[str, np.ndarray]:
    """Unit-peak maps of the task-responsive regions ('task') and of each change's
    regions ('<change>'), split into '<change>_rest' and '<change>_link' for the change
    holding the brain-behaviour link's region."""
    maps = {"task": region_map(mask, TASK_REGIONS, 2 * params.region_fwhm_mm)}
    linked = link_change(params)
    for change in params.changes:
        regions = REGION_SETS[change["regions"]]
        if change is linked:
            region = params.link["region"]
            maps[f"{change['name']}_rest"] = region_map(
                mask, {k: v for k, v in regions.items() if k != region}, params.region_fwhm_mm)
            maps[f"{change['name']}_link"] = region_map(mask, {region: regions[region]},
                                                        params.region_fwhm_mm)
        else:
            maps[change["name"]] = region_map(mask, regions, params.region_fwhm_mm)
    return maps


def subject_gains(subjects: pd.DataFrame, design: Design, params: ImagingParams,
                  seed: int) -> pd.DataFrame:
    """Per-subject multipliers of the planted training changes (0 for the groups a
    change does not name).

    The link region's gain has its own spread (``link.gain_sd``) and correlates
    (r = ``link.r``) with the subject's reported change of the link's rating over its
    step (the rating change the brain-behaviour analysis regresses on), the link that
    analysis finds. It is not clipped at 0: a subject whose reported rating fell gets a
    decrease there, which keeps the link linear.
    """
    rng = np.random.default_rng([seed, 7])
    name_of = {g.label: g.name for g in design.groups}
    groups = subjects["group"].map(name_of).to_numpy()
    n = len(subjects)
    out = pd.DataFrame({"participant_id": subjects["participant_id"],
                        "group": subjects["group"]})
    linked, link = link_change(params), params.link
    if linked is not None:  # drawn first, as the simulator always has
        planted = np.isin(groups, linked["groups"])
        step = design.steps[link["step"] - 1].name
        reported = subjects[f"{link['rating']}_{step}_reported"].to_numpy(dtype=float)
        z = np.zeros(n)
        if planted.sum() > 1:
            z[planted] = ((reported[planted] - reported[planted].mean())
                          / reported[planted].std())
        r = link["r"]
        link_gain = 1 + link["gain_sd"] * (r * z + np.sqrt(1 - r ** 2) * rng.standard_normal(n))
    for change in params.changes:
        planted = np.isin(groups, change["groups"])
        gain = np.clip(1 + params.subject_sd * rng.standard_normal(n), 0, None)
        out[gain_column(change["name"])] = np.where(planted, gain, 0.0)
        if change is linked:
            out[gain_column(link["region"])] = np.where(planted, link_gain, 0.0)
    return out


def change_effect(change: Mapping[str, Any], maps: Mapping[str, np.ndarray],
                  params: ImagingParams, gains: Mapping[str, float] | None = None) -> np.ndarray:
    """A change's planted effect on the first condition's response: its pct times the
    gain-weighted maps of its regions (gains 1 when none are given: the truth maps)."""
    name = change["name"]
    if change is link_change(params):
        if gains is None:
            return change["pct"] * (maps[f"{name}_rest"] + maps[f"{name}_link"])
        return change["pct"] * (gains[gain_column(name)] * maps[f"{name}_rest"]
                                + gains[gain_column(params.link["region"])]
                                * maps[f"{name}_link"])
    if gains is None:
        return change["pct"] * maps[name]
    return change["pct"] * gains[gain_column(name)] * maps[name]


def condition_fraction(change: Mapping[str, Any], condition: str) -> float:
    """How much of a change a condition's response gets (1 unless the config says)."""
    return change.get("condition_fraction", {}).get(condition, 1.0)


def condition_amplitudes(maps: Mapping[str, np.ndarray], params: ImagingParams,
                         conditions: Sequence[str], session_index: int,
                         gains: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Each condition's response map at a session: task_pct x (1 + its extra) in the
    task regions, plus every change whose step the session has passed."""
    amplitudes = {c: params.task_pct * (1 + params.condition_extra.get(c, 0.0)) * maps["task"]
                  for c in conditions}
    for change in params.changes:
        if change["step"] > session_index:
            continue
        effect = change_effect(change, maps, params, gains)
        for c in conditions:
            amplitudes[c] = amplitudes[c] + condition_fraction(change, c) * effect
    return amplitudes


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


def task_regressors(events: pd.DataFrame, n_vols: int, tr: float,
                    design: Design) -> pd.DataFrame:
    """The design's condition and nuisance regressors (columns named for them) convolved
    with the SPM canonical HRF, one row per volume."""
    # Imported here: the workflow computes every run's regressors in one job
    # (simulate_regressors), so the per-run simulate_run jobs need not import nilearn.
    from nilearn.glm.first_level import make_first_level_design_matrix

    frame_times = np.arange(n_vols) * tr
    names = design.modelled_trial_types()
    ev = events[events["trial_type"].isin(names)][["onset", "duration", "trial_type"]]
    ev = ev.assign(trial_type=ev["trial_type"].map(names))
    dm = make_first_level_design_matrix(frame_times, ev, hrf_model="spm", drift_model=None)
    return dm[list(names.values())]


def simulate_run(
    events: pd.DataFrame, gains: pd.Series, session_index: int, high_motion: bool,
    params: ImagingParams, grid_mm: float, tr: float, n_vols: int, seed: list[int],
    design: Design, grid: Sequence[nib.Nifti1Image] | None = None,
    regressors: pd.DataFrame | None = None,
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
    x = task_regressors(events, n_vols, tr, design) if regressors is None else regressors
    if len(x) != n_vols:
        raise ValueError(f"{len(x)} rows of task regressors for a run of {n_vols} volumes")

    # Task response (percent signal change), including the changes planted by this session.
    amplitudes = condition_amplitudes(maps, params, design.condition_names, session_index,
                                      gains)
    run_field = params.run_sd_pct * smooth_field(mask.shape, 1.0, rng)[mask]
    terms = ([(x[c], amplitudes[c] + run_field) for c in design.condition_names]
             + [(x[c.name], params.nuisance_pct * maps["task"]) for c in design.nuisance])
    signal = np.outer(*terms[0])
    for series, amplitude in terms[1:]:  # summed in place: one volumes x voxels array
        signal += np.outer(series, amplitude)

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
    # Drawn a volume at a time into the float32 series: the same draws as one float64
    # array of the whole series converted afterwards, in a quarter of the time (0.5 s
    # against 1.7-2.1 s for a 3 mm run; allocating that array was the cost).
    white = np.empty((n_vols,) + mask.shape, dtype=np.float32)
    volume = np.empty(mask.shape)
    for frame in white:
        rng.standard_normal(out=volume)
        frame[...] = volume
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

def truth_images(params: ImagingParams, grid_mm: float,
                 conditions: Sequence[str]) -> dict[str, nib.Nifti1Image]:
    """Planted effect maps (percent signal change at mean gain) and region label maps.

    ``task<condition>`` is a condition's response before training; ``<change><condition>``
    the expected change of that response in the groups the change names (the other
    groups' expected change is zero everywhere).
    """
    mask_img, _, _ = simulation_grid(grid_mm)
    maps = planted_maps(mask_img, params)
    effects = {f"task{c}": params.task_pct * (1 + params.condition_extra.get(c, 0.0))
               * maps["task"] for c in conditions}
    for change in params.changes:
        effect = change_effect(change, maps, params)
        for c in conditions:
            effects[f"{change['name']}{c}"] = condition_fraction(change, c) * effect
    out = {name: nib.Nifti1Image(data.astype(np.float32), mask_img.affine)
           for name, data in effects.items()}
    labels = np.zeros(mask_img.shape, dtype=np.int16)
    blobs = np.stack([region_map(mask_img, {name: centre}, params.region_fwhm_mm)
                      for name, centre in planted_regions(params).items()])
    for index, blob in enumerate(blobs, start=1):
        labels[(blob >= 0.5) & (labels == 0)] = index
    out["regions"] = nib.Nifti1Image(labels, mask_img.affine)
    # Where each region's effect is at least SUPPORT_FRACTION of its peak (the voxel
    # goes to the region whose blob is largest there): what 6 mm smoothing can reach.
    support = np.where(blobs.max(axis=0) >= SUPPORT_FRACTION, blobs.argmax(axis=0) + 1, 0)
    out["support"] = nib.Nifti1Image(support.astype(np.int16), mask_img.affine)
    return out


def planted_regions(params: ImagingParams) -> dict[str, tuple[float, float, float]]:
    """Every region a change plants, in the changes' order, in label order."""
    regions: dict[str, tuple[float, float, float]] = {}
    for change in params.changes:
        regions.update({k: v for k, v in REGION_SETS[change["regions"]].items()
                        if k not in regions})
    return regions


def regions_table(params: ImagingParams) -> pd.DataFrame:
    """Label, name, MNI centre and change (the first that plants it) of each region."""
    first = {}
    for change in params.changes:
        for name in REGION_SETS[change["regions"]]:
            first.setdefault(name, change["name"])
    rows = []
    for index, (name, (x, y, z)) in enumerate(planted_regions(params).items(), start=1):
        rows.append({"index": index, "name": name, "x": x, "y": y, "z": z,
                     "delta": first[name]})
    return pd.DataFrame(rows)
