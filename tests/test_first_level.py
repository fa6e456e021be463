"""First level: confound selection on real fMRIPrep output, the GLM on the real localizer,
and the planted effects recovered from the tiny simulated study."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from nilearn.glm.first_level import make_first_level_design_matrix

from ecgap.config import check_drift_model
from ecgap.confounds import (ConfoundSpec, QCLimits, motion_qc, select_confounds,
                             temporal_snr)
from ecgap.first_level import (GLMSpec, bold_in_memory, contrast_maps, fit_first_level,
                               high_pass_record, model_events)
from ecgap.io import InputError, read_tsv
from ecgap.simulate_images import cosine_basis

from conftest import PAPER, SHARED

CONFOUNDS = SHARED / "fmriprep_confounds" / "derivatives" / "fmriprep"
LOCALIZER = SHARED / "localizer"


def _real_runs():
    if not CONFOUNDS.is_dir():
        pytest.skip(f"{CONFOUNDS} not present")
    tables = sorted(CONFOUNDS.glob("sub-*/func/*_desc-confounds_timeseries.tsv"))
    return [(t, t.with_suffix(".json")) for t in tables]


def _expected_scrubbed(raw: pd.DataFrame, fd: float, dvars: float, segment: int) -> np.ndarray:
    """nilearn's censoring rule, written out: high-motion volumes, short segments, and
    fMRIPrep's non-steady-state volumes."""
    bad = ((raw["framewise_displacement"].fillna(0) > fd)
           | (raw["std_dvars"].fillna(0) > dvars)).to_numpy()
    steady = raw.filter(like="non_steady_state_outlier").sum(axis=1).to_numpy() > 0
    keep = ~bad
    start = 0
    while start < len(keep):
        if not keep[start]:
            start += 1
            continue
        end = start
        while end < len(keep) and keep[end]:
            end += 1
        if end - start < segment:
            keep[start:end] = False
        start = end
    return ~keep | steady


@pytest.mark.realdata
@pytest.mark.parametrize("strategy, expected, absent", [
    (("motion", "high_pass", "wm_csf"),
     {"trans_x", "rot_z_derivative1_power2", "csf", "white_matter", "cosine00"},
     {"global_signal", "a_comp_cor_00"}),
    (("motion", "high_pass", "compcor"),
     {"trans_x", "a_comp_cor_00", "a_comp_cor_04", "cosine00"}, {"a_comp_cor_05", "csf"}),
    (("motion", "wm_csf", "global_signal"),
     {"trans_y", "global_signal", "csf", "white_matter"}, {"cosine00"}),
])
def test_real_confounds_per_strategy(strategy, expected, absent):
    spec = ConfoundSpec(strategy=strategy, motion="full", n_compcor=5)
    for table, sidecar in _real_runs():
        confounds, scrubbed = select_confounds(table, sidecar, spec)
        raw = read_tsv(table)
        assert len(confounds) == len(raw) == 255
        assert expected <= set(confounds.columns) and not absent & set(confounds.columns)
        assert len([c for c in confounds if c.startswith(("trans", "rot"))]) == 24
        assert not confounds.isna().any().any()  # first-row n/a filled
        # nilearn fills the first row's n/a with the second row, then demeans over the
        # volumes it keeps.
        column = raw["trans_x_derivative1"].copy()
        assert np.isnan(column.iloc[0])
        column.iloc[0] = column.iloc[1]
        np.testing.assert_allclose(confounds["trans_x_derivative1"],
                                   column - column[~scrubbed].mean(), atol=1e-9)
        np.testing.assert_array_equal(scrubbed, _expected_scrubbed(raw, 0.5, 1.5, 5))
        outliers = [c for c in confounds if c.startswith("scrub")]
        assert len(outliers) == scrubbed.sum()


@pytest.mark.realdata
def test_real_motion_qc_counts():
    for table, sidecar in _real_runs():
        raw = read_tsv(table)
        _, scrubbed = select_confounds(table, sidecar, ConfoundSpec(fd_threshold=0.2,
                                                          std_dvars_threshold=100,
                                                          scrub_min_segment=0))
        steady = raw.filter(like="non_steady_state_outlier").sum(axis=1) > 0
        assert scrubbed.sum() == ((raw["framewise_displacement"] > 0.2) | steady).sum()
        qc = motion_qc(raw, scrubbed, QCLimits(max_scrubbed_fraction=0.25, max_mean_fd=0.5))
        assert 0.10 <= qc["mean_fd"] <= 0.15 and not qc["excluded"]
        strict = motion_qc(raw, scrubbed, QCLimits(max_scrubbed_fraction=0.25,
                                                   max_mean_fd=0.05))
        assert strict["excluded"] and "mean FD" in strict["reason"]


def test_temporal_snr_of_a_scaled_integer_series_equals_the_scaled_floats(tmp_path):
    """tSNR from the stored int16 values and the scale factor equals tSNR of the series
    as nibabel scales it, inside the mask only."""
    rng = np.random.default_rng(0)
    series = 800 + 40 * rng.standard_normal((5, 4, 3, 30))
    series[0, 0, 0] = 0.0  # constant voxel, inside the mask: tSNR 0, as before
    mask = np.ones((5, 4, 3), dtype=np.uint8)
    mask[4] = 0
    img = nib.Nifti1Image(series, np.eye(4))
    img.set_data_dtype(np.int16)
    img.header.set_slope_inter(0.05, 3.0)
    img.to_filename(tmp_path / "bold.nii.gz")
    stored = nib.load(tmp_path / "bold.nii.gz")
    scaled = stored.get_fdata()[mask > 0]
    sd = scaled.std(axis=1)
    expected = np.median(np.divide(scaled.mean(axis=1), sd, out=np.zeros_like(sd),
                                   where=sd > 0))
    mask_img = nib.Nifti1Image(mask, np.eye(4))
    assert temporal_snr(stored, mask_img) == pytest.approx(expected, rel=1e-10)
    in_memory = nib.Nifti1Image(stored.get_fdata(), np.eye(4))
    assert temporal_snr(in_memory, mask_img) == pytest.approx(expected, rel=1e-10)


@pytest.mark.realdata
def test_temporal_snr_of_a_real_int16_run_equals_the_float_computation():
    bold_path = LOCALIZER / "real_data_vol_4_regions_BOLD.nii.gz"
    if not bold_path.is_file():
        pytest.skip(f"{bold_path} not present")
    bold = nib.load(bold_path)
    mask = nib.load(LOCALIZER / "real_data_vol_4_regions_mask.nii.gz")
    data = bold.get_fdata()[np.asarray(mask.dataobj) > 0]
    sd = data.std(axis=1)
    expected = np.median(np.divide(data.mean(axis=1), sd, out=np.zeros_like(sd),
                                   where=sd > 0))
    assert expected > 1 and temporal_snr(bold, mask) == pytest.approx(expected, rel=1e-10)


def _localizer_events() -> pd.DataFrame:
    table = pd.read_csv(LOCALIZER / "paradigm_loc.csv", sep=" ", header=None,
                        names=["session", "trial_type", "onset", "duration", "amplitude"])
    table["trial_type"] = table["trial_type"].str.strip('"')
    return table[["onset", "duration", "trial_type"]]


def _peak(img: nib.Nifti1Image, sign: float = 1.0) -> tuple[float, np.ndarray]:
    data = sign * img.get_fdata()
    index = np.unravel_index(np.nanargmax(data), data.shape)
    return float(data[index]), nib.affines.apply_affine(img.affine, index)


@pytest.mark.realdata
def test_localizer_first_level_finds_the_known_activations():
    bold = LOCALIZER / "real_data_vol_4_regions_BOLD.nii.gz"
    if not bold.is_file():
        pytest.skip(f"{bold} not present")
    labels = nib.load(LOCALIZER / "real_data_vol_4_regions_mask.nii.gz")
    mask = nib.Nifti1Image((labels.get_fdata() > 0).astype(np.uint8), labels.affine)
    # The header says TR = 1.0 s; the acquisition's TR is 2.4 s.
    model = fit_first_level(bold, mask, _localizer_events(), None,
                            GLMSpec(t_r=2.4, smoothing_fwhm=None))
    audio = "calculaudio + phraseaudio + clicDaudio + clicGaudio"
    video = "calculvideo + phrasevideo + clicDvideo + clicGvideo"
    maps = contrast_maps(model, {
        "audioMinusVideo": f"{audio} - ({video})",
        "leftMinusRight": "clicGaudio + clicGvideo - clicDaudio - clicDvideo",
        "computationMinusSentences": "calculaudio + calculvideo - phraseaudio - phrasevideo",
    })
    z, where = _peak(maps["audioMinusVideo"]["z"])
    assert z > 8 and np.linalg.norm(where - [-62, -8, 0]) <= 12
    t, _ = _peak(maps["audioMinusVideo"]["t"])
    assert t > 10
    z, where = _peak(maps["leftMinusRight"]["z"])
    assert z > 3 and np.linalg.norm(where - [38, -24, 54]) <= 15
    z, where = _peak(maps["computationMinusSentences"]["z"])
    assert z > 3 and where[0] < 0 and np.linalg.norm(where - [-28, -60, 42]) <= 20


def test_parametric_modulators_are_centred_copies():
    events = pd.DataFrame({"onset": [0, 12, 20, 32, 44], "duration": [12, 6, 12, 6, 10],
                           "trial_type": ["HE", "rating", "LE", "rating", "fixation"],
                           "empathy": [8, np.nan, 2, np.nan, np.nan],
                           "positive_affect": [1, np.nan, 6, np.nan, np.nan],
                           "negative_affect": [7, np.nan, 1, np.nan, np.nan]})
    plain = model_events(events, PAPER, parametric=False)
    assert sorted(plain.trial_type.unique()) == ["HE", "LE", "rating"]
    modulated = model_events(events, PAPER, parametric=True)
    extra = modulated[modulated.trial_type.str.contains("x")]
    assert sorted(extra.trial_type.unique()) == sorted(
        f"{v}x{r}" for v in ("HE", "LE")
        for r in ("Empathy", "PositiveAffect", "NegativeAffect"))
    assert (extra.groupby("trial_type").modulation.sum().abs() < 1e-12).all()
    contrasts = PAPER.first_level_contrasts(True)
    assert contrasts["HEMinusLE"] == "HE - LE" and contrasts["LExNegativeAffect"] == \
        "LExNegativeAffect"
    assert len(contrasts) == 4 + 6


def test_scrubbed_volumes_become_outlier_regressors(run_files):
    spec = ConfoundSpec(fd_threshold=0.15, scrub_min_segment=0)
    confounds, scrubbed = select_confounds(run_files["confounds"], run_files["confounds_json"], spec)
    outliers = confounds[[c for c in confounds if c.startswith("scrub")]]
    assert 0 < outliers.shape[1] == scrubbed.sum() < len(scrubbed)
    np.testing.assert_array_equal(outliers.sum(axis=1).to_numpy() > 0, scrubbed)


def _block_run(tmp_path: Path, stored: type) -> tuple[Path, Path, pd.DataFrame, float]:
    """A small BOLD run with HE blocks, stored as ``stored`` (int16: with nibabel's slope
    and intercept, as fMRIPrep may write it), its mask and events."""
    rng = np.random.default_rng(7)
    shape, n_scans, t_r = (9, 8, 7), 80, 2.0
    signal = 500 + 20 * rng.standard_normal((*shape, n_scans))
    events = pd.DataFrame({"onset": np.arange(0, 150, 20.0), "duration": 8.0,
                           "trial_type": ["HE", "LE"] * 4})
    signal[2:6, 2:6, 2:5] += 15 * (np.arange(n_scans) * t_r // 20 % 2 == 0)  # HE blocks
    bold_img = nib.Nifti1Image(signal.astype(np.float32), np.diag([3, 3, 3, 1]))
    bold_img.set_data_dtype(stored)
    mask_img = nib.Nifti1Image(np.ones(shape, np.uint8), np.diag([3, 3, 3, 1]))
    bold, mask = tmp_path / "bold.nii.gz", tmp_path / "mask.nii.gz"
    bold_img.to_filename(bold)
    mask_img.to_filename(mask)
    return bold, mask, events, t_r


def _nilearns_fit(bold, mask: Path, events: pd.DataFrame, spec: GLMSpec):
    from nilearn.glm.first_level import FirstLevelModel

    return FirstLevelModel(t_r=spec.t_r, hrf_model=spec.hrf_model,
                           drift_model=spec.drift_model, high_pass=spec.high_pass,
                           noise_model=spec.noise_model, smoothing_fwhm=spec.smoothing_fwhm,
                           mask_img=str(mask), minimize_memory=True,
                           signal_scaling=0).fit(bold, events=events)


def _maps(model) -> dict[tuple[str, str], np.ndarray]:
    return {(expression, output): model.compute_contrast(expression,
                                                         output_type=output).get_fdata()
            for expression in ("HE", "HE - LE")
            for output in ("effect_size", "effect_variance", "z_score")}


def test_a_float32_run_gives_nilearns_maps_on_the_file_bit_for_bit(tmp_path):
    """fit_first_level hands nilearn the run read once (bold_in_memory); for a float32
    series the maps equal nilearn's own fit on the file names."""
    bold, mask, events, t_r = _block_run(tmp_path, np.float32)
    spec = GLMSpec(t_r=t_r, smoothing_fwhm=5.0)
    ours = _maps(fit_first_level(bold, mask, events, None, spec))
    theirs = _maps(_nilearns_fit(str(bold), mask, events, spec))
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=str(key))


@pytest.mark.parametrize("stored", [np.int16, np.uint8, np.float32, np.float64])
def test_a_bold_series_is_read_as_nibabels_float32_values(tmp_path, stored):
    """bold_in_memory gives get_fdata's values at float32, for scaled integers, floats,
    and an image already in memory."""
    bold = _block_run(tmp_path, stored)[0]
    expected = nib.load(bold).get_fdata(dtype=np.float32)
    for given in (bold, nib.load(bold), nib.Nifti1Image(nib.load(bold).get_fdata(),
                                                        np.eye(4))):
        series = bold_in_memory(given)
        assert series.get_data_dtype() == np.float32
        data = np.asarray(series.dataobj)
        assert data.dtype == np.float32
        np.testing.assert_array_equal(data, expected)


def test_an_int16_run_is_modelled_at_float32_precision(tmp_path):
    """A scaled int16 series is read as float32: the maps equal nilearn's fit on that
    float32 series bit for bit, and differ from nilearn's float64 fit of the file only at
    float32 precision (OLS, so no AR(1) coefficient can change bins)."""
    bold, mask, events, t_r = _block_run(tmp_path, np.int16)
    assert nib.load(bold).dataobj.slope != 1.0
    spec = GLMSpec(t_r=t_r, smoothing_fwhm=5.0)
    ours = _maps(fit_first_level(bold, mask, events, None, spec))
    stored = nib.load(bold)
    as_float32 = nib.Nifti1Image(stored.get_fdata(dtype=np.float32), stored.affine)
    for key, theirs in _maps(_nilearns_fit(as_float32, mask, events, spec)).items():
        np.testing.assert_array_equal(ours[key], theirs, err_msg=str(key))
    ols = GLMSpec(t_r=t_r, smoothing_fwhm=5.0, noise_model="ols")
    ours = _maps(fit_first_level(bold, mask, events, None, ols))
    for key, float64 in _maps(_nilearns_fit(str(bold), mask, events, ols)).items():
        assert not np.array_equal(ours[key], float64)
        np.testing.assert_allclose(ours[key], float64, rtol=1e-4, atol=5e-5,
                                   err_msg=str(key))
    # AR(1): the same, except voxels whose coefficient changes one of nilearn's bins
    ours = _maps(fit_first_level(bold, mask, events, None, spec))
    for key, float64 in _maps(_nilearns_fit(str(bold), mask, events, spec)).items():
        moved = ~np.isclose(ours[key], float64, rtol=1e-4, atol=5e-5)
        assert moved.mean() < 0.01, key


@pytest.mark.parametrize("n_vols,t_r", [(300, 2.0), (173, 2.5), (420, 0.8)])
def test_high_pass_record_gives_the_cut_off_actually_used(n_vols, t_r):
    frame_times = np.arange(n_vols) * t_r
    nilearn = make_first_level_design_matrix(frame_times, drift_model="cosine",
                                             high_pass=1 / 128)
    fmriprep = pd.DataFrame(cosine_basis(n_vols, t_r, 128.0)).add_prefix("cosine")
    for design, drift in ((nilearn, "cosine"), (fmriprep, "fmriprep_cosines")):
        record = high_pass_record([design], t_r, drift, 1 / 128)
        low, high = record["HighPassCutoffRangeS"][0]
        assert low < 128 <= high, (drift, record)
    # fMRIPrep keeps one cosine fewer than nilearn at the same cut-off
    assert (high_pass_record([fmriprep], t_r, "fmriprep_cosines", 0)["HighPassCosines"][0]
            == high_pass_record([nilearn], t_r, "cosine", 0)["HighPassCosines"][0] - 1)
    none = high_pass_record([pd.DataFrame({"HE": np.zeros(n_vols)})], t_r, "none", 1 / 128)
    assert none["HighPassCosines"] == [0] and none["HighPass"] is None


@pytest.mark.parametrize("drift,strategy,message", [
    ("fmriprep_cosines", ["motion", "wm_csf"], "needs high_pass"),
    ("cosine", ["motion", "high_pass", "wm_csf"], "would filter twice"),
    ("none", ["motion", "high_pass"], "would filter twice"),
])
def test_one_high_pass_filter_is_configured(drift, strategy, message):
    config = {"first_level": {"drift_model": drift},
              "preprocess": {"confounds": {"strategy": strategy}}}
    with pytest.raises(InputError, match=message):
        check_drift_model(config)
    config["preprocess"]["confounds"]["strategy"] = (
        strategy + ["high_pass"] if drift == "fmriprep_cosines" else
        [s for s in strategy if s != "high_pass"])
    check_drift_model(config)


def test_high_pass_costs_he_minus_le_more_than_the_mean():
    from ecgap.efficiency import high_pass_table

    table = high_pass_table(runs=2, t_r=2.0, cutoff_s=128.0, rhos=[0.0], seed=3)
    ratio = table.set_index("contrast")["variance_ratio_mean"]
    assert ratio["HEMinusLE"] > 1.5 > ratio["HE"] > ratio["meanHELE"] > 1.0


@pytest.mark.realdata
def test_real_fmriprep_cosines_span_the_steady_state_volumes():
    """fMRIPrep writes its cosines over the volumes after the non-steady-state ones (0 in
    those rows): the simulator's basis over that count equals them, and the sidecar's
    cut-off range is computed from that count."""
    for table, _ in _real_runs():
        raw = read_tsv(table)
        columns = [c for c in raw if c.startswith("cosine")]
        dummies = len([c for c in raw if c.startswith("non_steady_state_outlier")])
        steady = len(raw) - dummies
        assert (raw[columns].iloc[:dummies] == 0).all().all()
        cutoff = 2 * steady * 2.0 / (len(columns) + 1.5)  # any TR: K cosines at this cut-off
        np.testing.assert_allclose(raw[columns].iloc[dummies:].to_numpy(),
                                   cosine_basis(steady, 2.0, cutoff), atol=1e-6)
        record = high_pass_record([raw[columns]], 2.0, "fmriprep_cosines", 0)
        span = 2 * steady * 2.0
        assert record["HighPassCutoffRangeS"] == [[round(span / (len(columns) + 2), 1),
                                                   round(span / (len(columns) + 1), 1)]]


def test_preprocessing_job_imports_no_glm_and_no_plotting():
    """preprocess_run runs once per run: its modules load nilearn's fMRIPrep interface
    (load_confounds) but not nilearn's GLM, plotting or matplotlib."""
    import re
    import subprocess
    import sys

    from conftest import REPO

    script = (REPO / "scripts" / "preprocess_run.py").read_text()
    modules = re.findall(r"^from (ecgap[\w.]*) import", script, re.M)
    assert "ecgap.confounds" in modules and "ecgap.first_level" not in modules
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print(sorted(m for m in ('nilearn.glm', 'nilearn.plotting', 'matplotlib', "
              "'nilearn.interfaces.fmriprep') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO / "scripts").stdout.strip()
    assert out == "['nilearn.interfaces.fmriprep']", out
