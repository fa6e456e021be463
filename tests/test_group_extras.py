"""Conjunctions, brain-behaviour designs and scores, and cluster parameter estimates."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from conftest import PAPER
from ecgap.brain_behaviour import Score, behaviour_score, regression_design
from ecgap.conjunction import cluster_overlap, minimum_statistic, overlap_sentence, verdict
from ecgap.io import InputError
from ecgap.roi import cluster_means, roi_values, significant_labels
from ecgap.second_level import (Inference, analyse_contrasts, cluster_table,
                                contrast_vector)

AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])
SESSIONS = ["pre", "post1", "post2"]


def _img(data):
    return nib.Nifti1Image(np.asarray(data, dtype=np.float32), AFFINE)


def test_minimum_statistic_needs_voxel_fwe_in_every_analysis():
    z1, z2 = np.zeros((6, 6, 6)), np.zeros((6, 6, 6))
    z1[1:4, 1:4, 1:4], z2[2:5, 2:5, 2:5] = 4.0, 3.0
    # voxel FWE p: 0.01 in the first cube, 0.03 in the second, 0.2 at one of its voxels
    p1, p2 = np.ones_like(z1), np.ones_like(z2)
    p1[z1 > 0], p2[z2 > 0] = 0.01, 0.03
    p2[3, 3, 3] = 0.2
    logps = [_img(-np.log10(p)) for p in (p1, p2)]
    min_z, logp = minimum_statistic([_img(z1), _img(z2)], logps, alpha=0.05)
    out = np.asarray(min_z.dataobj)
    assert out[2, 2, 2] == 3.0 and out[3, 3, 3] == 0.0  # not significant in the second
    assert np.count_nonzero(out) == 7
    # the conjunction p is the larger of the two voxel FWE p values
    assert 10 ** -float(np.asarray(logp.dataobj)[2, 2, 2]) == pytest.approx(0.03)
    assert np.count_nonzero(minimum_statistic([_img(z1), _img(z2)], logps, 0.02)[0]
                            .get_fdata()) == 0
    with pytest.raises(ValueError):
        minimum_statistic([_img(z1)], [_img(z1)], 0.05)


def test_cluster_overlap_is_not_the_conjunction():
    """Two FWE clusters that overlap where neither analysis has a voxel-level effect:
    the overlap is reported, the conjunction stays empty."""
    z1, z2 = np.zeros((8, 8, 8)), np.zeros((8, 8, 8))
    z1[1:5, 1:5, 1:5], z2[3:7, 3:7, 3:7] = 3.2, 3.4
    logp = [_img(np.where(z > 0, -np.log10(0.3), 0)) for z in (z1, z2)]
    clusters = [_img(np.where(z > 0, z, 0)) for z in (z1, z2)]
    assert np.count_nonzero(minimum_statistic([_img(z1), _img(z2)], logp, 0.05)[0]
                            .get_fdata()) == 0
    overlap = np.asarray(cluster_overlap([_img(z1), _img(z2)], clusters).dataobj)
    assert np.count_nonzero(overlap) == 8 and overlap.max() == pytest.approx(3.2)
    empty = pd.DataFrame(columns=["size_voxels"])
    assert "do not overlap" in overlap_sentence("HELE", empty)


def test_verdict_states_the_finding():
    empty = pd.DataFrame(columns=["size_voxels"])
    assert "conjunction null is not rejected" in verdict("HELE", ["a", "b"],
                                                          "affectGtMemory", empty)
    found = pd.DataFrame({"size_voxels": [12, 3], "peak_x": [0, 30], "peak_y": [20, 0],
                          "peak_z": [40, 0], "peak_label": ["Cingulate_Mid_L", "x"],
                          "peak_min_z": [3.5, 2.9]})
    line = verdict("shared", ["a", "b"], "affectGtMemory", found)
    assert "15 voxels in 2 cluster(s)" in line and "left middle cingulate" in line
    assert "voxel-FWE" in line
    assert "does not show" in overlap_sentence("shared", found)


def _ratings(changes):
    """Ratings whose subject mean empathy rises by ``changes[subject]`` at post1."""
    rows = []
    for subject, change in changes.items():
        for session in SESSIONS:
            for video in ("HE", "LE"):
                for trial in range(3):
                    level = 5 + (change if session != "pre" else 0)
                    rows.append({"subject": subject, "session": session, "trial": trial,
                                 "video_type": video, "empathy": level + (video == "HE"),
                                 "positive_affect": 3.0, "negative_affect": 2.0})
    return pd.DataFrame(rows)


def test_behaviour_score_is_the_rating_change_or_a_participants_column():
    ratings = _ratings({"01": 1.0, "02": 2.5, "03": -0.5})
    participants = pd.DataFrame({"subject": ["01", "02", "03"],
                                 "practice_minutes": [100, 200, 300]})
    score = behaviour_score(Score("empathy", "delta1"), ratings, participants, PAPER)
    assert score.to_dict() == pytest.approx({"01": 1.0, "02": 2.5, "03": -0.5})
    delta2 = behaviour_score(Score("empathy", "delta2", "HE"), ratings, participants, PAPER)
    assert np.allclose(delta2, 0)
    practice = behaviour_score(Score("practice_minutes"), ratings, participants, PAPER)
    assert practice.to_dict() == {"01": 100, "02": 200, "03": 300}
    with pytest.raises(InputError, match="no column 'meditation'"):
        behaviour_score(Score("meditation"), ratings, participants, PAPER)
    assert PAPER.score_label(Score("empathy", "delta1")) == "empathy delta1 (all videos)"


def test_regression_design_centres_and_checks():
    subjects = pd.DataFrame({"subject": ["01", "02", "03", "04", "05"],
                             "age": [20, 22, 24, 26, 28], "bdi": [1, 2, 3, 4, 10]})
    score = pd.Series({"01": 1.0, "02": 2.0, "03": 3.0, "04": 4.0, "05": 5.0}, name="s")
    design = regression_design(subjects, score, ["age"])
    assert list(design.columns) == ["intercept", "score", "age"]
    assert design["score"].mean() == pytest.approx(0) and design["age"].mean() == 0
    with pytest.raises(InputError, match="missing for subjects \\['05'\\]"):
        regression_design(subjects, score.drop("05"), [])
    with pytest.raises(InputError, match="no error degrees of freedom"):
        regression_design(subjects.head(3), score, ["age"])


def test_slope_analysis_finds_a_planted_brain_behaviour_link():
    rng = np.random.default_rng(3)
    n, shape = 14, (12, 12, 10)
    score = pd.Series(rng.normal(0, 1, n), index=[f"{i:02d}" for i in range(n)], name="s")
    maps = []
    for value in score:
        data = rng.normal(0, 1, shape)
        data[3:7, 3:7, 3:6] += 2.0 * value
        maps.append(_img(data))
    subjects = pd.DataFrame({"subject": score.index})
    design = regression_design(subjects, score, [])
    mask = nib.Nifti1Image(np.ones(shape, np.uint8), AFFINE)
    settings = Inference(n_permutations=200, cluster_forming_p=0.01)
    results = analyse_contrasts(maps, design, {"positiveSlope": contrast_vector(design, {"score": 1}),
                                               "negativeSlope": contrast_vector(design, {"score": -1})},
                                mask, settings)
    positive = results["positiveSlope"].table
    assert positive.significant.any() and positive.iloc[0].size_voxels >= 30
    assert not results["negativeSlope"].table.significant.any()
    labels = np.asarray(results["positiveSlope"].labels.dataobj)
    assert (labels[3:7, 3:7, 3:6] == positive.iloc[0].cluster_id).mean() > 0.8


def test_cluster_means_and_roi_values_match_numpy(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.zeros((6, 6, 6), np.int16)
    labels[0:2, 0:2, 0:2], labels[3:6, 3:6, 3:6] = 1, 2
    keys, data = [], {}
    for subject in ("01", "02"):
        for session in SESSIONS:
            for video in ("HE", "LE"):
                values = rng.normal(size=(6, 6, 6))
                path = tmp_path / f"{subject}_{session}_{video}.nii.gz"
                nib.save(_img(values), path)
                keys.append((subject, session, video))
                data[(subject, session, video)] = values
    maps = {k: str(tmp_path / f"{k[0]}_{k[1]}_{k[2]}.nii.gz") for k in keys}
    means = cluster_means(nib.Nifti1Image(labels, AFFINE), [nib.load(maps[k]) for k in keys])
    assert list(means.columns) == [1, 2]
    np.testing.assert_allclose(means[2], [data[k][labels == 2].mean() for k in keys], rtol=1e-5)
    clusters = pd.DataFrame({"contrast": ["affectGtMemory"] * 2, "cluster_id": [1, 2],
                             "significant": [False, True], "peak_label": ["a", "b"]})
    participants = pd.DataFrame({"subject": ["01", "02"], "role": ["affect", "memory"]})
    table = roi_values({"affectGtMemory": nib.Nifti1Image(labels, AFFINE)}, clusters, maps,
                       participants, {"affectGtMemory": ["01"]})
    assert set(table.cluster_id) == {2} and len(table) == 12
    row = table[(table.subject == "02") & (table.session == "post1") & (table.video_type == "LE")]
    assert row.effect.iloc[0] == pytest.approx(data[("02", "post1", "LE")][labels == 2].mean(),
                                               rel=1e-5)
    assert row.group.iloc[0] == "memory" and not row.in_analysis.iloc[0]
    kept = np.asarray(significant_labels(nib.Nifti1Image(labels, AFFINE), [2]).dataobj)
    assert set(np.unique(kept)) == {0, 2}


def test_cluster_table_without_p_maps_has_nan_p():
    data = np.zeros((8, 8, 8))
    data[2:4, 2:4, 2:4] = 3.0
    table, labels = cluster_table(_img(data), _img(data), None, None, 0.0)
    assert len(table) == 1 and table.p_fwe_size.isna().all()
    assert np.count_nonzero(np.asarray(labels.dataobj)) == 8


def test_conjunction_excludes_p_equal_to_alpha_after_float32_storage():
    z = np.full((2, 2, 2), 4.0)
    at_alpha = _img(np.full((2, 2, 2), -np.log10(0.05)))  # float32 on disk
    below = _img(np.full((2, 2, 2), -np.log10(0.04)))
    assert not minimum_statistic([_img(z), _img(z)], [at_alpha, below], 0.05)[0].get_fdata().any()
    assert minimum_statistic([_img(z), _img(z)], [below, below], 0.05)[0].get_fdata().all()
