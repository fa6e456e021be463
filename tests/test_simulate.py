"""The simulator: paper-like behaviour, fMRIPrep-compatible confounds, determinism."""

import hashlib

import numpy as np
import pandas as pd
import pytest
from nilearn.interfaces.fmriprep import load_confounds

from conftest import BEHAVIOUR, IMAGING, LINK, PAPER, UNIT_GAINS, paper_study
from ecgap.simulate_behaviour import (plant_subject_changes, rate_videos,
                                      simulate_participants, write_behaviour_dataset)
from ecgap.simulate_images import (ImagingParams, framewise_displacement, simulate_motion,
                                   simulate_run, subject_gains)
from ecgap.task import TaskDesign, make_task_events, n_volumes


def _subject_mean_changes(n_affect=200, n_memory=200, seed=3):
    study = paper_study(n_affect, n_memory, seed=seed)
    rng = np.random.default_rng(seed)
    participants = simulate_participants(study, BEHAVIOUR, rng)
    truth = plant_subject_changes(participants, study, BEHAVIOUR, rng)
    rows = []
    for _, subject in truth.iterrows():
        for index, session in enumerate(study.sessions):
            events = rate_videos(make_task_events(study.timing, PAPER, rng), subject, index,
                                 PAPER, BEHAVIOUR, rng)
            videos = events[events.trial_type.isin(["HE", "LE"])]
            rows.append({"participant_id": subject.participant_id, "session": session,
                         **videos[["empathy", "positive_affect", "negative_affect"]].mean()})
    means = pd.DataFrame(rows).merge(participants[["participant_id", "group"]])
    return means.pivot_table(index=["participant_id", "group"], columns="session")


def _dz(x):
    return x.mean() / x.std(ddof=1)


def test_planted_rating_changes_have_paper_effect_sizes():
    wide = _subject_mean_changes()
    affect = wide.xs("affect", level="group")
    memory = wide.xs("memory", level="group")
    d1 = affect.xs("post1", axis=1, level=1) - affect.xs("pre", axis=1, level=1)
    d2 = affect.xs("post2", axis=1, level=1) - affect.xs("post1", axis=1, level=1)
    m2 = memory.xs("post2", axis=1, level=1) - memory.xs("post1", axis=1, level=1)
    # d_z targets 0.93, 0.70, -0.61, 0.85, -0.60 (paper t / sqrt(n)); n = 200 -> se ~0.08.
    assert _dz(d1["empathy"]) == pytest.approx(0.93, abs=0.25)
    assert _dz(d1["negative_affect"]) == pytest.approx(0.70, abs=0.25)
    assert _dz(d2["negative_affect"]) == pytest.approx(-0.61, abs=0.25)
    assert _dz(d2["positive_affect"]) == pytest.approx(0.85, abs=0.25)
    assert _dz(m2["negative_affect"]) == pytest.approx(-0.60, abs=0.25)
    assert abs(_dz(d1["positive_affect"])) < 0.25


def test_participants_look_like_the_paper():
    study = paper_study(400, 400)
    people = simulate_participants(study, BEHAVIOUR, np.random.default_rng(1))
    assert people.groupby("group").age.mean()["affect"] == pytest.approx(25.9, abs=0.8)
    assert people.groupby("group").age.mean()["memory"] == pytest.approx(22.9, abs=0.8)
    assert people.bdi.mean() == pytest.approx(3.1, abs=0.6) and (people.bdi >= 0).all()


def test_framewise_displacement_formula():
    motion = pd.DataFrame(np.zeros((3, 6)), columns=["trans_x", "trans_y", "trans_z",
                                                     "rot_x", "rot_y", "rot_z"])
    motion.loc[1, "trans_x"] = 0.2
    motion.loc[2, "rot_z"] = 0.01  # 0.01 rad x 50 mm = 0.5 mm
    fd = framewise_displacement(motion)
    assert np.isnan(fd[0]) and fd[1] == pytest.approx(0.2) and fd[2] == pytest.approx(0.7)


def test_high_motion_runs_exceed_the_usual_qc_limits():
    rng = np.random.default_rng(0)
    calm = framewise_displacement(simulate_motion(300, False, rng))
    wild = framewise_displacement(simulate_motion(300, True, rng))
    assert 0.05 < np.nanmean(calm) < 0.2 and np.nanmean(calm > 0.5) < 0.02
    assert np.nanmean(wild) > 0.5 and np.nanmean(wild > 0.5) > 0.2


@pytest.mark.parametrize("strategy, kwargs, expected", [
    (("motion", "high_pass", "wm_csf"), {"motion": "full"},
     {"trans_x", "rot_z_derivative1_power2", "csf", "white_matter", "cosine00"}),
    (("motion", "high_pass", "compcor"), {"motion": "basic", "compcor": "anat_combined",
                                          "n_compcor": 5}, {"a_comp_cor_04", "trans_y"}),
    (("motion", "wm_csf", "global_signal"), {"global_signal": "basic"}, {"global_signal"}),
])
def test_confounds_load_with_nilearn(run_files, strategy, kwargs, expected):
    confounds, sample_mask = load_confounds(str(run_files["bold"]), strategy=strategy,
                                            **kwargs)
    assert expected <= set(confounds.columns)
    assert not confounds.isna().any().any()  # first-row n/a filled by nilearn
    assert sample_mask is None


def test_subject_gains_couple_amcc_with_empathy():
    n = 400
    subjects = pd.DataFrame({"participant_id": [f"sub-{i}" for i in range(n)],
                             "group": ["affect"] * n,
                             "empathy_delta1_reported":
                                 np.random.default_rng(2).normal(1, 1, n)})
    params = ImagingParams(**{**IMAGING.__dict__, "link": {**LINK, "r": 0.7, "gain_sd": 0.5}})
    gains = subject_gains(subjects, PAPER, params, seed=1)
    r = np.corrcoef(gains.gain_aMCC, subjects.empathy_delta1_reported)[0, 1]
    assert r == pytest.approx(0.7, abs=0.08)
    assert gains.gain_aMCC.std() == pytest.approx(0.5, abs=0.05)
    assert (gains.gain_delta1 >= 0).all()
    memory = subjects.assign(group="memory")
    assert (subject_gains(memory, PAPER, IMAGING, 1).gain_aMCC == 0).all()


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_files(tmp_path):
    study = paper_study(2, 2, n_missing_memory=1, seed=11, timing=TaskDesign(videos_per_type=3))
    for name in ("a", "b"):
        root = tmp_path / name
        write_behaviour_dataset(study, BEHAVIOUR, root / "bids", root / "fmriprep",
                                root / "truth", LINK)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    other = paper_study(2, 2, seed=12, timing=TaskDesign(videos_per_type=3))
    write_behaviour_dataset(other, BEHAVIOUR, tmp_path / "c" / "bids",
                            tmp_path / "c" / "fmriprep", tmp_path / "c" / "truth", LINK)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_truth_records_the_reported_empathy_change(tmp_path):
    """The aMCC link is tied to what the subject rated: Post1 - Pre of the events' mean."""
    study = paper_study(2, 1, seed=4, timing=TaskDesign(videos_per_type=3))
    write_behaviour_dataset(study, BEHAVIOUR, tmp_path / "bids", tmp_path / "fmriprep",
                            tmp_path / "truth", LINK)
    truth = pd.read_csv(tmp_path / "truth/subjects.tsv", sep="\t")
    for row in truth.itertuples():
        mean = {ses: pd.read_csv(next((tmp_path / "bids").rglob(
            f"{row.participant_id}_ses-{ses}_*_events.tsv")), sep="\t").empathy.mean()
            for ses in ("pre", "post1")}
        assert row.empathy_delta1_reported == pytest.approx(mean["post1"] - mean["pre"])


def test_same_seed_same_images():
    design = TaskDesign(videos_per_type=3)
    events = make_task_events(design, PAPER, np.random.default_rng(0))
    n_vols = n_volumes(events, 2.0, design.lead_out)
    runs = [simulate_run(events, UNIT_GAINS, 1, True, IMAGING, 8, 2.0, n_vols, seed=[5],
                         design=PAPER) for _ in range(2)]
    assert np.array_equal(runs[0][0].get_fdata(), runs[1][0].get_fdata())
    pd.testing.assert_frame_equal(runs[0][2], runs[1][2])


def test_a_run_simulated_on_the_stored_grid_equals_one_on_the_computed_grid(tmp_path):
    """simulate_truth stores the grid once and every simulate_run job reads it: the files
    must give back the grid to the bit, and so the same run."""
    from ecgap.regions import simulation_grid
    from ecgap.simulate_study import GRID_IMAGES, read_grid, write_grid

    paths = {key: tmp_path / f"{key}.nii.gz" for key in GRID_IMAGES}
    write_grid(8, paths)
    stored = read_grid(paths)
    for back, computed in zip(stored, simulation_grid(8)):
        np.testing.assert_array_equal(np.asarray(back.dataobj), np.asarray(computed.dataobj))
        assert np.asarray(back.dataobj).dtype == np.asarray(computed.dataobj).dtype
        np.testing.assert_array_equal(back.affine, computed.affine)
    events = make_task_events(TaskDesign(videos_per_type=3), PAPER, np.random.default_rng(0))
    args = (events, pd.Series(UNIT_GAINS), 2, True, IMAGING, 8, 2.0,
            n_volumes(events, 2.0, 16))
    computed = simulate_run(*args, seed=[0], design=PAPER)
    from_files = simulate_run(*args, seed=[0], design=PAPER, grid=stored)
    np.testing.assert_array_equal(np.asarray(computed[0].dataobj),
                                  np.asarray(from_files[0].dataobj))
    pd.testing.assert_frame_equal(computed[2], from_files[2])


def test_a_run_simulated_from_the_stored_regressors_equals_one_that_convolves_its_own(
        tmp_path):
    """simulate_regressors convolves every run's events in one job and each simulate_run
    job reads its rows back: the table must give back the regressors to the bit, and so
    the same run."""
    from ecgap.io import write_tsv
    from ecgap.simulate_images import task_regressors
    from ecgap.simulate_study import LEAD_OUT_S, read_regressors, run_regressors, study_regressors

    events = [make_task_events(TaskDesign(videos_per_type=3), PAPER, np.random.default_rng(seed))
              for seed in (0, 1)]
    write_tsv(study_regressors(events, [("01", "pre"), ("01", "post1")], 2.0, PAPER),
              tmp_path / "regressors.tsv")
    table = read_regressors(tmp_path / "regressors.tsv")
    n_vols = n_volumes(events[1], 2.0, LEAD_OUT_S)
    stored = run_regressors(table, "01", "post1")
    np.testing.assert_array_equal(stored.to_numpy(),
                                  task_regressors(events[1], n_vols, 2.0, PAPER).to_numpy())
    args = (events[1], UNIT_GAINS, 1, False, IMAGING, 8, 2.0, n_vols)
    own = simulate_run(*args, seed=[0], design=PAPER)
    read = simulate_run(*args, seed=[0], design=PAPER, regressors=stored)
    np.testing.assert_array_equal(np.asarray(own[0].dataobj), np.asarray(read[0].dataobj))
    with pytest.raises(ValueError, match="no task regressors for sub-02"):
        run_regressors(table, "02", "pre")
    with pytest.raises(ValueError, match="rows of task regressors"):
        simulate_run(*args, seed=[0], design=PAPER, regressors=stored.iloc[:-1])


@pytest.mark.parametrize("shape", [(100, 400), (100, 25)])
def test_compcor_components_equal_the_svd_of_the_residuals(shape):
    """CompCor from the Gram matrix: the SVD's singular values and (up to sign) its
    leading left singular vectors, also when a mask has fewer voxels than volumes."""
    from ecgap.simulate_images import _compcor, cosine_basis

    rng = np.random.default_rng(3)
    ts = (rng.standard_normal(shape)
          + np.outer(np.sin(np.arange(shape[0]) / 3), rng.random(shape[1])))
    basis = cosine_basis(shape[0], 2.0)
    comps, s = _compcor(ts, basis, 5)
    design = np.column_stack([np.ones(shape[0]), np.linspace(-1, 1, shape[0]), basis])
    resid = ts - design @ np.linalg.lstsq(design, ts, rcond=None)[0]
    resid /= resid.std(axis=0) + 1e-12
    u, s_svd, _ = np.linalg.svd(resid, full_matrices=False)
    # Equal variances (s**2) everywhere, equal values where they are not ~0.
    np.testing.assert_allclose(s ** 2, s_svd ** 2, atol=1e-10 * s_svd[0] ** 2)
    np.testing.assert_allclose(s[:5], s_svd[:5], rtol=1e-10)
    np.testing.assert_allclose(np.abs(comps), np.abs(u[:, :5]), atol=1e-8)
    assert comps.shape == (shape[0], 5)
    assert (comps[np.abs(comps).argmax(axis=0), range(5)] > 0).all()


def test_ar1_noise_draws_the_same_numbers_a_volume_at_a_time():
    """The noise is drawn volume by volume into float32 (no float64 copy of the whole
    series): the same draws as one float64 array converted afterwards, bit for bit."""
    from scipy import ndimage

    from ecgap.simulate_images import _ar1_noise

    mask = np.zeros((6, 7, 5), bool)
    mask[1:5, 2:6, 1:4] = True
    n_vols, rho = 9, 0.3
    drawn, reference = np.random.default_rng(3), np.random.default_rng(3)
    noise = _ar1_noise(mask, n_vols, rho, drawn)
    white = reference.standard_normal((n_vols,) + mask.shape).astype(np.float32)
    white = ndimage.gaussian_filter(white, sigma=(0, 0.6, 0.6, 0.6))[:, mask]
    white /= white.std()
    expected = np.empty_like(white)
    expected[0] = white[0]
    for i in range(1, n_vols):
        expected[i] = rho * expected[i - 1] + np.sqrt(1 - rho ** 2) * white[i]
    assert noise.dtype == np.float32
    np.testing.assert_array_equal(noise, expected)
    # the rest of the run draws from the same generator: its state must match too
    assert drawn.random() == reference.random()
