"""The workflow on the tiny simulated config: numbers, validity, and failures on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import BIN, REPO, TINY, bids_config, run_snakemake

pytestmark = pytest.mark.workflow
TINY_SIM = yaml.safe_load(TINY.read_text())["simulate"]
N_AFFECT, N_MEMORY = TINY_SIM["group_sizes"]["affect"], TINY_SIM["group_sizes"]["memory"]
N = N_AFFECT + N_MEMORY


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", na_values="n/a", dtype={"subject": str})


def test_ingest_tables_have_the_design(tiny_run):
    ingest = tiny_run / "results" / "ingest"
    runs = _read(ingest / "runs.tsv")
    assert len(runs) == N * 3 and set(runs.session) == {"pre", "post1", "post2"}
    assert (runs.tr == 2.0).all() and (runs.grid == "20x24x21").all()
    participants = _read(ingest / "participants.tsv")
    assert participants.role.value_counts().to_dict() == {"affect": N_AFFECT,
                                                          "memory": N_MEMORY}
    ratings = _read(ingest / "ratings.tsv")
    per_run = ratings.groupby(["subject", "session", "video_type"]).size()
    assert (per_run == 6).all() and len(per_run) == N * 3 * 2
    memory = _read(ingest / "memory.tsv")
    assert len(memory) == (N - TINY_SIM["n_missing_memory"]) * 3 and memory.recalled.between(0, 34).all()


def test_events_timing_matches_the_design(tiny_run):
    events_files = sorted((tiny_run / "results/simulated/bids").rglob("*_events.tsv"))
    assert len(events_files) == N * 3
    for path in events_files:
        events = pd.read_csv(path, sep="\t", na_values="n/a")
        videos = events[events.trial_type.isin(["HE", "LE"])]
        assert videos.trial_type.value_counts().to_dict() == {"HE": 6, "LE": 6}
        assert videos.duration.between(10, 18).all()
        assert (events[events.trial_type == "rating"].duration == 6).all()
        fixation = events[events.trial_type == "fixation"]
        assert len(fixation) == 4 and (fixation.duration == 10).all()
        assert videos.groupby("block").trial_type.agg(["size", "nunique"]).eq([3, 1]).all().all()
        assert videos[["empathy", "positive_affect", "negative_affect"]].notna().all().all()


def test_ratings_show_the_planted_effects(tiny_run):
    ratings = _read(tiny_run / "results/ingest/ratings.tsv")
    by_type = ratings.groupby("video_type")[["empathy", "negative_affect",
                                             "positive_affect"]].mean()
    assert by_type.loc["HE", "empathy"] > by_type.loc["LE", "empathy"] + 1
    assert by_type.loc["HE", "negative_affect"] > by_type.loc["LE", "negative_affect"] + 1
    assert by_type.loc["HE", "positive_affect"] < by_type.loc["LE", "positive_affect"]
    affect = ratings[ratings.group == "affect"]
    per_subject = affect.groupby(["subject", "session"]).empathy.mean().unstack()
    delta1 = per_subject["post1"] - per_subject["pre"]
    assert delta1.mean() > 0.3


def test_high_motion_run_is_in_the_confounds(tiny_run):
    truth = _read(tiny_run / "results/simulated/truth/runs.tsv")
    assert truth.high_motion.sum() == 1
    root = tiny_run / "results/simulated/derivatives/fmriprep"
    fd = {}
    for path in root.rglob("*_desc-confounds_timeseries.tsv"):
        sub, ses = path.name.split("_")[:2]
        fd[(sub[4:], ses[4:])] = pd.read_csv(path, sep="\t", na_values="n/a")[
            "framewise_displacement"].mean()
    wild = truth[truth.high_motion].iloc[0]
    assert fd[(wild.subject, wild.session)] > 0.5
    assert max(v for k, v in fd.items() if k != (wild.subject, wild.session)) < 0.25


def _roi_he_response(bold_path: Path, events_path: Path, roi: np.ndarray) -> float:
    """HE response (percent of baseline) in ``roi`` by least squares on the ROI mean."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    img = nib.load(bold_path)
    series = np.asarray(img.dataobj)[roi].mean(axis=0)
    events = pd.read_csv(events_path, sep="\t", na_values="n/a")
    events = events[events.trial_type.isin(["HE", "LE", "rating"])]
    frame_times = np.arange(len(series)) * 2.0
    design = make_first_level_design_matrix(frame_times, events[["onset", "duration",
                                                                 "trial_type"]],
                                            hrf_model="spm", drift_model="cosine")
    beta = np.linalg.lstsq(design.to_numpy(), series, rcond=None)[0]
    return 100 * beta[list(design.columns).index("HE")] / series.mean()


def test_planted_delta1_is_in_the_bold(tiny_run):
    """Raw BOLD (no pipeline): the affect group's insula/aMCC HE response grows Pre->Post1."""
    root = tiny_run / "results/simulated"
    truth = nib.load(next((root / "truth").glob("*desc-delta1HE_statmap.nii.gz"))).get_fdata()
    roi = truth > 0.5 * truth.max()
    control = nib.load(next((root / "truth").glob("*desc-taskLE_statmap.nii.gz"))).get_fdata()
    elsewhere = (control < 0.05 * control.max()) & (truth < 0.01 * truth.max())
    mask = nib.load(next(root.rglob("*desc-brain_mask.nii.gz"))).get_fdata() > 0
    subjects = _read(root / "truth/imaging_subjects.tsv")
    change = {}
    for row in subjects.itertuples():
        sub = row.participant_id
        per_session = {}
        for ses in ("pre", "post1"):
            bold = next(root.rglob(f"{sub}_ses-{ses}_*desc-preproc_bold.nii.gz"))
            events = next(root.rglob(f"{sub}_ses-{ses}_*_events.tsv"))
            per_session[ses] = [_roi_he_response(bold, events, r & mask)
                                for r in (roi, elsewhere)]
        change[(row.group, sub)] = np.subtract(per_session["post1"], per_session["pre"])
    affect = np.mean([v for (g, _), v in change.items() if g == "affect"], axis=0)
    memory = np.mean([v for (g, _), v in change.items() if g == "memory"], axis=0)
    # Planted: +0.8 % at the peak for the affect group, nothing for memory or elsewhere.
    assert affect[0] > 0.3
    assert abs(memory[0]) < 0.3 and abs(affect[1]) < 0.2 and abs(memory[1]) < 0.2


def test_simulated_bids_passes_the_validator(tiny_run):
    proc = subprocess.run([str(BIN / "bids-validator-deno"), "--format", "json",
                           str(tiny_run / "results/simulated/bids")],
                          capture_output=True, text=True, timeout=600)
    import json
    report = json.loads(proc.stdout)
    errors = [i for i in report["issues"]["issues"] if i["severity"] == "error"]
    assert errors == [], errors[:3]
    assert proc.returncode == 0


def test_behaviour_tables(tiny_run):
    behaviour = tiny_run / "results" / "behaviour"
    manova = _read(behaviour / "manova.tsv").set_index("effect")
    # Exact one-row multivariate F: df2 = n - 4 model columns - p + 1.
    assert tuple(manova.loc["video", ["df1", "df2", "n"]]) == (3, N - 6, N)
    assert tuple(manova.loc["time x group", ["df1", "df2"]]) == (6, N - 9)
    # HE vs LE is planted large; the MANOVA's video effect is evaluated at age 0 and
    # BDI 0 (uncentred), so the paired test is the sanity check here.
    ttests_he = _read(behaviour / "ttests.tsv")
    he_vs_le = ttests_he[(ttests_he.test == "HE vs LE") & (ttests_he.measure == "empathy")]
    assert he_vs_le.p.iloc[0] < 0.001 and he_vs_le["T"].iloc[0] > 0
    assert manova.covariates.iloc[0] == "uncentred (SPSS convention)"
    memory = _read(behaviour / "memory_manova.tsv").set_index("effect")
    n_memory = N - TINY_SIM["n_missing_memory"]
    assert tuple(memory.loc["time x group", ["df1", "df2", "n"]]) == (4, n_memory - 7, n_memory)
    ttests = _read(behaviour / "ttests.tsv")
    assert (ttests[ttests.test == "between groups"].dof == N - 2).all()
    comparison = _read(behaviour / "paper_comparison.tsv")
    assert len(comparison) == 35 and comparison.agree.dtype == bool


def test_high_motion_run_is_excluded_and_reported(tiny_run):
    truth = _read(tiny_run / "results/simulated/truth/runs.tsv")
    planted = truth[truth.high_motion][["subject", "session"]]
    exclusions = _read(tiny_run / "results/qc/exclusions.tsv")
    assert exclusions[["subject", "session"]].values.tolist() == planted.values.tolist()
    assert "scrubbed fraction" in exclusions.reason.iloc[0]
    qc = _read(tiny_run / "results/qc/runs.tsv")
    assert len(qc) == N * 3 and qc.excluded.sum() == 1
    kept = qc[~qc.excluded]
    assert kept.mean_fd.between(0.05, 0.25).all() and (kept.scrubbed_fraction < 0.1).all()
    assert kept.tsnr.between(20, 500).all()


def _effect(root: Path, sub: str, ses: str, contrast: str) -> np.ndarray:
    path = (root / "first_level" / sub / f"ses-{ses}" /
            f"{sub}_ses-{ses}_task-sovt_space-MNI152NLin2009cAsym_contrast-{contrast}_stat-effect_statmap.nii.gz")
    return nib.load(path).get_fdata()


def test_first_level_recovers_the_planted_effects(tiny_run):
    root = tiny_run / "results"
    truth_dir = root / "simulated/truth"
    delta1 = nib.load(next(truth_dir.glob("*desc-delta1HE_statmap.nii.gz"))).get_fdata()
    task = nib.load(next(truth_dir.glob("*desc-taskHE_statmap.nii.gz"))).get_fdata()
    mask = nib.load(next(root.rglob("*desc-brain_mask.nii.gz"))).get_fdata() > 0
    roi, task_roi = delta1 > 0.5 * delta1.max(), task > 0.5 * task.max()
    elsewhere = mask & (delta1 < 0.01 * delta1.max()) & (task < 0.05 * task.max())
    subjects = _read(truth_dir / "imaging_subjects.tsv")
    excluded = _read(root / "qc/exclusions.tsv")
    he_minus_le, change = [], {"affect": [], "memory": []}
    for row in subjects.itertuples():
        for ses in ("pre", "post1", "post2"):
            if ((excluded.subject == row.participant_id[4:]) & (excluded.session == ses)).any():
                continue
            he_minus_le.append(_effect(root, row.participant_id, ses, "HEMinusLE")[task_roi].mean())
        d1 = (_effect(root, row.participant_id, "post1", "HE")
              - _effect(root, row.participant_id, "pre", "HE"))
        change[row.group].append((d1[roi].mean(), d1[elsewhere].mean()))
    # HE - LE is planted at 0.4 x task amplitude (percent signal change) in task regions.
    assert min(he_minus_le) > 0 and np.mean(he_minus_le) > 0.2
    affect, memory = np.array(change["affect"]), np.array(change["memory"])

    def t_value(x):
        return x.mean() / (x.std(ddof=1) / np.sqrt(len(x)))

    planted = delta1[roi].mean()
    assert abs(affect[:, 0].mean() - planted) < 0.25 and t_value(affect[:, 0]) > 3
    assert abs(t_value(memory[:, 0])) < 3
    assert abs(affect[:, 1].mean()) < 0.1 and abs(memory[:, 1].mean()) < 0.1


def test_first_level_outputs_per_run(tiny_run):
    run_dir = tiny_run / "results/first_level/sub-01/ses-pre"
    prefix = "sub-01_ses-pre_task-sovt_space-MNI152NLin2009cAsym"
    for contrast in ("HE", "LE", "HEMinusLE", "meanHELE"):
        for stat in ("effect", "variance", "z"):
            assert (run_dir / f"{prefix}_contrast-{contrast}_stat-{stat}_statmap.nii.gz").is_file()
    design = pd.read_csv(run_dir / f"{prefix}_design.tsv", sep="\t")
    assert {"HE", "LE", "rating", "trans_x", "csf", "cosine00"} <= set(design.columns)
    assert not any(c.startswith("drift") for c in design.columns)  # cosines come from fMRIPrep
    assert (run_dir / f"{prefix}_design.png").stat().st_size > 1000
    import json
    sidecar = json.loads((run_dir / f"{prefix}_statmap.json").read_text())
    assert sidecar["SmoothingFWHM"] == 6 and sidecar["NoiseModel"] == "ar1"


def test_second_level_outputs(tiny_run):
    import json
    root = tiny_run / "results/second_level"
    excluded = _read(tiny_run / "results/qc/exclusions.tsv")
    assert len(excluded) == 1  # one planted high-motion run
    bad_subject, bad_session = excluded.subject.iloc[0], excluded.session.iloc[0]
    spans = {"delta1": ("pre", "post1"), "delta2": ("post1", "post2")}
    for analysis, delta in (("empathyHELE", "delta1"), ("compassionHELE", "delta2"),
                            ("tripleDelta1", "delta1")):
        dropped = [bad_subject] if bad_session in spans[delta] else []
        folder = root / analysis
        sidecar = json.loads((folder / f"task-sovt_space-MNI152NLin2009cAsym_desc-{analysis}_statmap.json").read_text())
        assert sidecar["DroppedByQC"] == dropped
        assert sidecar["N"] == N - len(dropped) and sidecar["ModelIntercept"] is False
        assert sidecar["Permutations"] == 1000 and sidecar["Seed"] == 1
        assert sidecar["Connectivity"].startswith("6-connected")
        design = pd.read_csv(folder / f"task-sovt_space-MNI152NLin2009cAsym_desc-{analysis}_design.tsv", sep="\t",
                             dtype={"subject": str})
        assert list(design.columns) == ["subject", "affect", "memory", "age", "bdi"]
        assert not set(dropped) & set(design.subject)
        for contrast in ("affectGtMemory", "memoryGtAffect"):
            for stat in ("effect", "variance", "t", "z", "logpFWEvoxel", "logpFWEsize",
                         "logpFWEmass", "tFWEcluster"):
                assert (folder / f"task-sovt_space-MNI152NLin2009cAsym_contrast-{contrast}_stat-"
                                 f"{stat}_desc-{analysis}_statmap.nii.gz").is_file()
            labels = folder / f"task-sovt_space-MNI152NLin2009cAsym_contrast-{contrast}_desc-{analysis}_dseg"
            assert labels.with_suffix(".nii.gz").is_file()
            assert list(pd.read_csv(labels.with_suffix(".tsv"), sep="\t").columns) == [
                "index", "name"]
        clusters = pd.read_csv(folder / "clusters.tsv", sep="\t")
        assert {"contrast", "cluster_id", "size_voxels", "size_mm3", "peak_x", "peak_zscore",
                "p_fwe_size", "p_fwe_mass", "peak_label", "main_regions",
                "significant"} <= set(clusters.columns)
        assert clusters.p_fwe_size.between(0, 1).all()
    assert sidecar["PermutationEngine"] == "ecgap"


def test_group_level_recovers_the_planted_networks(tiny_run):
    """Empathy (delta1) finds insula/aMCC, compassion (delta2) finds mOFC/pgACC/VS, the
    delta1 HE-LE gain is planted and expected, and memory > affect finds nothing;
    significant voxels lie mostly in the planted support."""
    summary = _read(tiny_run / "results/second_level/truth_recovery.tsv").set_index(
        ["analysis", "contrast"])
    regions = _read(tiny_run / "results/second_level/truth_recovery_regions.tsv")
    hits = regions[regions.expected & regions.detected]
    found = {a: set(rows.region) for a, rows in hits.groupby("analysis")}
    assert found.get("empathyHELE", set()) & {"insula_L", "insula_R", "aMCC"}
    assert found.get("compassionHELE", set()) & {"mOFC", "pgACC", "VS_L", "VS_R"}
    # LE gains 0.75 of HE at delta1: HE-LE is planted there, in the delta1 regions only
    triple = regions[(regions.analysis == "tripleDelta1") & (regions.contrast == "affectGtMemory")]
    assert set(triple.loc[triple.expected, "region"]) == {"insula_L", "insula_R", "aMCC"}
    # No planted region of the other change period is ever expected or significant.
    wrong = regions[regions.region_delta != regions.delta]
    assert not wrong.expected.any() and (wrong.core_significant_voxels == 0).all()
    reverse = summary.xs("memoryGtAffect", level="contrast")
    assert not reverse.planted.any() and (reverse.significant_voxels == 0).all()
    for analysis in ("empathyHELE", "compassionHELE"):
        row = summary.loc[(analysis, "affectGtMemory")]
        assert row.planted and row.precision > 0.8, row
        assert row.off_target_clusters == 0, row
    clusters = _read(tiny_run / "results/second_level/compassionHELE/clusters.tsv")
    found_clusters = clusters[(clusters.contrast == "affectGtMemory") & clusters.significant]
    # At 8 mm the ventral-striatum/mOFC peak can label as the adjoining olfactory cortex.
    assert found_clusters.peak_label.str.contains("ACC_pre|OFC|Frontal_Med_Orb|Rectus|Olfactory|"
                                                  "Caudate|N_Acc").any()


def _truth_labels(root: Path) -> tuple[np.ndarray, dict[str, int]]:
    truth = root / "results/simulated/truth"
    labels = np.asarray(nib.load(next(truth.glob("*desc-regions_dseg.nii.gz"))).dataobj)
    regions = _read(next(truth.glob("*desc-regions_dseg.tsv")))
    return labels, dict(zip(regions.name, regions["index"]))


def test_conjunctions_are_empty_across_periods_and_find_a_shared_network(tiny_run):
    root = tiny_run / "results/conjunctions"
    labels, index = _truth_labels(tiny_run)
    across = _read(root / "HELE/clusters.tsv")
    assert across.empty
    assert "conjunction null is not rejected" in (root / "HELE/verdict.txt").read_text()
    shared = _read(root / "sharedDelta1/clusters.tsv")
    assert not shared.empty and "rejected" in (root / "sharedDelta1/verdict.txt").read_text()
    overlap = np.asarray(nib.load(next((root / "sharedDelta1").glob("*_stat-minz_desc-sharedDelta1_statmap.nii.gz")))
                         .dataobj) > 0
    delta1 = np.isin(labels, [index["insula_L"], index["insula_R"], index["aMCC"]])
    assert (overlap & delta1).sum() > 0.5 * (overlap & (labels > 0)).sum() > 0
    # Both analyses use every subject with usable delta1 runs, so the minimum z is the
    # smaller of their z values.
    roi = _read(root / "sharedDelta1/roi_values.tsv")
    assert set(roi.cluster_id) == set(shared.cluster_id)


def test_brain_behaviour_finds_the_amcc_link_and_no_practice_effect(tiny_run):
    root = tiny_run / "results/brain_behaviour"
    for name in ("empathyRating", "practice1"):
        clusters = _read(root / name / "clusters.tsv")
        assert set(clusters.contrast) <= {"positiveSlope", "negativeSlope"}
        assert (root / name / "roi_values.tsv").is_file()
    practice = _read(root / "practice1/clusters.tsv")
    assert not practice.significant.any()
    # The planted link: aMCC delta1 gain tracks the reported empathy change (r = .95).
    empathy = _read(root / "empathyRating/clusters.tsv")
    found = empathy[empathy.significant]
    assert set(found.contrast) == {"positiveSlope"}
    labels = _read(next((tiny_run / "results/simulated/truth").glob("*desc-regions_dseg.tsv")))
    amcc = int(labels.loc[labels.name == "aMCC", "index"].iloc[0])
    truth = np.asarray(nib.load(next((tiny_run / "results/simulated/truth").glob(
        "*desc-regions_dseg.nii.gz"))).dataobj)
    clusters_img = np.asarray(nib.load(next((root / "empathyRating").glob(
        "*contrast-positiveSlope_desc-empathyRating_dseg.nii.gz"))).dataobj)
    hit = np.unique(truth[np.isin(clusters_img, found.cluster_id.to_numpy())])
    assert amcc in hit, f"significant clusters cover planted labels {hit}, not aMCC"
    design = _read(next((root / "empathyRating").glob("*_design.tsv")))
    assert list(design.columns) == ["subject", "intercept", "score"]
    assert len(design) == N_AFFECT
    assert design.score.mean() == pytest.approx(0, abs=1e-9)


def test_roi_values_agree_with_the_planted_change(tiny_run):
    """Per subject, the change of the HE effect in each significant empathy cluster
    against the planted change (the truth, smoothed as the first level smooths)."""
    from nilearn.image import smooth_img

    from ecgap.regions import simulation_grid
    from ecgap.simulate_images import ImagingParams, planted_maps

    root = tiny_run / "results"
    roi = _read(root / "second_level/empathyHELE/roi_values.tsv")
    clusters = _read(root / "second_level/empathyHELE/clusters.tsv")
    assert set(roi.cluster_id) == set(clusters[clusters.significant
                                               & (clusters.contrast == "affectGtMemory")]
                                      .cluster_id)
    from ecgap.config import validate_config
    params = ImagingParams(**validate_config({"simulate": TINY_SIM})["simulate"]["imaging"])
    delta1 = params.changes[0]
    mask_img = simulation_grid(TINY_SIM["grid_mm"])[0]
    parts = {name: np.asarray(smooth_img(nib.Nifti1Image(m.astype(np.float32), mask_img.affine),
                                         6.0).dataobj)
             for name, m in planted_maps(mask_img, params).items()}
    gains = _read(root / "simulated/truth/imaging_subjects.tsv")
    gains["subject"] = gains.participant_id.str[4:]
    labels = np.asarray(nib.load(next((root / "second_level/empathyHELE").glob(
        "*contrast-affectGtMemory_desc-empathyHELE_dseg.nii.gz"))).dataobj)
    for cid, rows in roi[roi.in_analysis & (roi.video_type == "HE")].groupby("cluster_id"):
        inside = labels == cid
        wide = rows.pivot(index="subject", columns="session", values="effect")
        change = (wide["post1"] - wide["pre"]).rename("observed").to_frame()
        change = change.join(gains.set_index("subject")[["group", "gain_delta1", "gain_aMCC"]])
        change["planted"] = delta1["pct"] * (
            change.gain_delta1 * parts["delta1_rest"][inside].mean()
            + change.gain_aMCC * parts["delta1_link"][inside].mean())
        for group, sel in change.groupby("group"):
            error = sel.observed - sel.planted
            se = sel.observed.std(ddof=1) / np.sqrt(len(sel))
            assert abs(error.mean()) < 2 * se, (cid, group, error.mean(), se)
        assert change[change.group == "affect"].planted.mean() > 0.5


def test_report_contains_every_figure_and_table(tiny_run):
    """`snakemake --report` on the tiny run: every figure and table, captions with numbers."""
    report = tiny_run / "results/report.html"
    run_snakemake(tiny_run, "--report", str(report))
    page = report.read_text()
    findings = json.loads((tiny_run / "results/report/findings.json").read_text())
    expected = ["fig2a_ratings.png", "fig2b_memory.png", "fig3a_networks.png",
                "qc_motion.png", "runs.html", "exclusions.html", "truth_recovery.html"]
    expected += [f"{t}.html" for t in ("manova", "univariate", "ttests", "correlations",
                                       "memory_manova", "memory_ttests", "paper_comparison")]
    for analysis in ("empathyHELE", "empathyHE", "compassionHELE", "tripleDelta1"):
        expected += [f"contrast-{c}_desc-{analysis}_maps.png" for c in ("affectGtMemory",
                                                                          "memoryGtAffect")]
        expected += [f"desc-{analysis}_sessions.png", f"desc-{analysis}_clusters.html",
                     f"task-sovt_space-MNI152NLin2009cAsym_desc-{analysis}_design.png"]
    for name in ("HELE", "sharedDelta1"):
        expected += [f"desc-{name}_conjunction.png", f"desc-{name}_clusters.html"]
    for name in ("empathyRating", "practice1"):
        expected += [f"contrast-{c}_desc-{name}_maps.png"
                     for c in ("positiveSlope", "negativeSlope")]
        expected += [f"desc-{name}_scatter.png", f"desc-{name}_clusters.html",
                     f"task-sovt_space-MNI152NLin2009cAsym_desc-{name}_design.png"]
    expected += ["sub-01_ses-pre_task-sovt_space-MNI152NLin2009cAsym_design.png"]
    missing = [name for name in expected if name not in page]
    assert not missing, f"report lacks {missing}"
    for category in ("Behaviour", "First level", "Group level", "Conjunctions",
                     "Brain-behaviour", "QC"):
        assert category in page
    # Captions and the front page state the run's own numbers.
    group_line = findings["group"][0].split(": ", 1)[1].replace(">", "&gt;")
    assert group_line.split(";")[0] in page
    assert findings["qc"].split(".")[0] in page
    assert findings["conjunctions"][1].split(":")[0] in page
    assert 'src="http' not in page  # self-contained: opens offline
    assert "Data from 18 participants" in page  # the methods text, on the front page


def test_every_result_file_name_follows_bids_derivative_rules(tiny_run):
    """Entities in BIDS order, none repeated (one desc-), every image named by entities
    and a suffix; every dseg image has its label table; results/ is a derivative
    dataset."""
    from ecgap.names import entities_of, name_problems

    files = [p for p in (tiny_run / "results").rglob("*") if p.is_file()]
    bad = {str(p.relative_to(tiny_run)): problems for p in files
           if (problems := name_problems(p.name, require_entities=".nii" in p.name))}
    assert not bad, bad
    assert len(files) > 1000
    images = [p for p in files if ".nii" in p.name]
    assert [p for p in images if "space" not in entities_of(p.name)] == []
    for dseg in (p for p in files if p.name.endswith("_dseg.nii.gz")):
        table = pd.read_csv(dseg.with_name(dseg.name.replace(".nii.gz", ".tsv")), sep="\t")
        labels = np.unique(np.asarray(nib.load(dseg).dataobj))
        assert set(labels[labels > 0]) <= set(table["index"]), dseg
    description = json.loads((tiny_run / "results/dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert [g["Name"] for g in description["GeneratedBy"]][:2] == ["ecgap", "nilearn"]
    maps = (tiny_run / "results/second_level/empathyHELE").glob("*stat-effect*statmap.nii.gz")
    assert len(list(maps)) == 2  # and a variance map beside each effect map
    sidecar = json.loads(next((tiny_run / "results/second_level/empathyHELE")
                              .glob("*_statmap.json")).read_text())
    assert sidecar["SoftwareVersions"]["nilearn"] == description["GeneratedBy"][1]["Version"]


def test_methods_text_states_the_run(tiny_run):
    text = (tiny_run / "results/methods.md").read_text()
    assert text.startswith("# Methods") and "Data from 18 participants" in text
    assert "1000 permutations" in text and "one-sided p < 0.01" in text
    assert "(1 of 54 runs)" in text and "https://doi.org/10.1093/scan/nst060" in text


def test_continuous_maps_are_float32_and_labels_integer(tiny_run):
    """Every NIfTI the workflow writes: masks and label images integer, every other map
    (effects, variances, z, t, logp, change maps, min z, truth) float32 unscaled."""
    checked = 0
    for path in sorted((tiny_run / "results").rglob("*.nii*")):
        if path.name.endswith("desc-preproc_bold.nii.gz"):
            continue  # the simulated input, int16 as fMRIPrep writes it
        img = nib.load(path)
        dtype = img.get_data_dtype()
        if path.name.endswith(("_mask.nii.gz", "_dseg.nii.gz")):
            assert np.issubdtype(dtype, np.integer), path
        else:
            assert dtype == np.float32, (path, dtype)
            slope, inter = img.header.get_slope_inter()
            assert slope in (None, 1.0) and inter in (None, 0.0), path
        checked += 1
    assert checked > 600


def test_first_level_sidecar_records_the_high_pass_actually_used(tiny_run):
    """fMRIPrep's cosines are the filter (nilearn adds none): the sidecar gives their
    number and the cut-off interval they imply, which holds fMRIPrep's 128 s."""
    sidecars = sorted((tiny_run / "results/first_level").rglob("*_statmap.json"))
    assert sidecars
    for path in sidecars:
        sidecar = json.loads(path.read_text())
        assert sidecar["DriftModel"].startswith("fMRIPrep cosine") and sidecar["HighPass"] is None
        for cosines, (low, high) in zip(sidecar["HighPassCosines"],
                                        sidecar["HighPassCutoffRangeS"]):
            assert cosines > 0 and low < 128 <= high, path
        design = _read(path.with_name(path.name.replace("_statmap.json", "_design.tsv")))
        assert not [c for c in design.columns if c.startswith("drift_")]


def test_bids_source_has_no_simulate_rules(tiny_bids, tmp_path):
    proc = run_snakemake(tmp_path, "--list-rules", configfile=bids_config(tmp_path, tiny_bids))
    assert "ingest_behaviour" in proc.stdout and "simulate" not in proc.stdout


def test_rerun_is_a_no_op(tiny_run):
    proc = run_snakemake(tiny_run, "--dry-run")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_behaviour_target_makes_no_images(tmp_path):
    proc = run_snakemake(tmp_path, "results/ingest/ratings.tsv", "--dry-run")
    out = proc.stdout
    assert "simulate_behaviour" in out and "ingest_behaviour" in out
    assert "simulate_run" not in out and "simulate_truth" not in out


def test_lint_is_clean(tmp_path):
    proc = subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--lint"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- bad input, end to end

def _copy_data(tiny_bids: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "data"
    shutil.copytree(tiny_bids, dest)
    return dest


def _no_outputs(workdir: Path) -> None:
    ingest = workdir / "results" / "ingest"
    assert not (ingest / "runs.tsv").exists() and not (ingest / "ratings.tsv").exists()


def test_bids_source_reads_a_real_layout(tiny_bids, tmp_path):
    data = _copy_data(tiny_bids, tmp_path)
    run_snakemake(tmp_path, "results/ingest/runs.tsv", "results/behaviour/manova.tsv",
                  configfile=bids_config(tmp_path, data))
    runs = _read(tmp_path / "results/ingest/runs.tsv")
    assert len(runs) == N * 3 and (runs.tr == 2.0).all()


def test_missing_session_keeps_the_subject_for_the_period_it_has(tiny_bids, tmp_path):
    data = _copy_data(tiny_bids, tmp_path)
    for root in ("bids", "derivatives/fmriprep"):
        shutil.rmtree(data / root / "sub-02/ses-post2")
    proc = run_snakemake(tmp_path, "--dry-run", configfile=bids_config(tmp_path, data))
    assert "sub-02 has no session 'post2'; it is kept for the change periods it has" in \
        proc.stderr
    jobs = dict(line.split() for line in proc.stdout.splitlines()
                if line.split()[:1] in (["change_maps"], ["first_level"], ["ingest_run"]))
    assert jobs == {"change_maps": str(2 * N - 1), "first_level": str(3 * N - 1),
                    "ingest_run": str(3 * N - 1)}


def test_missing_events_beside_fmriprep_bold_fails_before_any_job(tiny_bids, tmp_path):
    data = _copy_data(tiny_bids, tmp_path)
    shutil.rmtree(data / "bids/sub-02/ses-post2")
    proc = run_snakemake(tmp_path, configfile=bids_config(tmp_path, data), check=False)
    assert proc.returncode != 0
    assert "sub-02 has no session 'post2'" in proc.stderr
    assert "sub-02_ses-post2_task-sovt_events.tsv" in proc.stderr
    assert "Traceback" not in proc.stderr
    _no_outputs(tmp_path)


def test_missing_confounds_fails_naming_the_file(tiny_bids, tmp_path):
    data = _copy_data(tiny_bids, tmp_path)
    victim = next((data / "derivatives/fmriprep/sub-03/ses-pre/func").glob("*confounds*.tsv"))
    victim.unlink()
    proc = run_snakemake(tmp_path, configfile=bids_config(tmp_path, data), check=False)
    assert proc.returncode != 0
    assert "missing confounds file for sub-03 ses-pre" in proc.stderr
    assert victim.name in proc.stderr
    _no_outputs(tmp_path)


def test_nan_bold_fails_in_its_job_and_leaves_no_output(tiny_bids, tmp_path):
    data = _copy_data(tiny_bids, tmp_path)
    bold = next((data / "derivatives/fmriprep/sub-01/ses-pre/func").glob("*preproc_bold.nii.gz"))
    img = nib.load(bold)
    values = img.get_fdata(dtype=np.float32)
    values[10, 12, 10, :] = np.nan
    header = img.header.copy()
    header.set_data_dtype(np.float32)
    nib.save(nib.Nifti1Image(values, img.affine, header), bold)
    proc = run_snakemake(tmp_path, "results/ingest/runs.tsv",
                         configfile=bids_config(tmp_path, data), check=False)
    assert proc.returncode != 0
    assert "inside the brain mask contain NaN" in proc.stderr and bold.name in proc.stderr
    assert not (tmp_path / "results/ingest/runs/sub-01_ses-pre_task-sovt.tsv").exists()
    _no_outputs(tmp_path)
    log = (tmp_path / "results/logs/ingest_run/sub-01_ses-pre_task-sovt.log").read_text()
    assert "NaN" in log


def test_wrong_tr_in_config_fails_naming_the_sidecar(tiny_bids, tmp_path):
    data = _copy_data(tiny_bids, tmp_path)
    config = bids_config(tmp_path, data, "  tr: 2.5\n")
    proc = run_snakemake(tmp_path, "results/ingest/runs.tsv", configfile=config, check=False)
    assert proc.returncode != 0
    assert "disagrees with the config's data.tr = 2.5" in proc.stderr
    assert "desc-preproc_bold.json" in proc.stderr
    _no_outputs(tmp_path)


def test_unknown_group_fails_before_any_job(tiny_bids, tmp_path):
    data = _copy_data(tiny_bids, tmp_path)
    participants = data / "bids/participants.tsv"
    participants.write_text(participants.read_text().replace("memory", "control"))
    proc = run_snakemake(tmp_path, configfile=bids_config(tmp_path, data), check=False)
    assert proc.returncode != 0
    assert "'control' not in the config's design.groups labels" in proc.stderr
    assert str(participants) in proc.stderr
    _no_outputs(tmp_path)


def test_bad_config_value_fails_before_any_job(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("simulate:\n  grid_mm: large\n")
    proc = run_snakemake(tmp_path, configfile=config, check=False)
    assert proc.returncode != 0
    assert "config key simulate.grid_mm: 'large' is not of type 'number'" in proc.stderr
    assert not (tmp_path / "results").exists()
