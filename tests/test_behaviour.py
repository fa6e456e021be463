"""The behavioural statistics: exact df, F and V against numpy, Student not Welch,
covariate centring, and the paper comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from ecgap.behaviour import (contrast_scores, cell_means, design_matrix, memory_manova,
                             memory_ttests, practice_correlations, sovt_manova, sovt_ttests,
                             univariate_followups)
from ecgap.paper import REPORTED, compare_with_paper

SESSIONS = ["pre", "post1", "post2"]
COVARIATES = ["age", "bdi"]


def paper_shaped(n_affect=25, n_memory=28, trials=2, seed=0):
    """Random ratings, memory scores and participants with the paper's group sizes."""
    rng = np.random.default_rng(seed)
    subjects = [f"{i:02d}" for i in range(1, n_affect + n_memory + 1)]
    roles = ["affect"] * n_affect + ["memory"] * n_memory
    participants = pd.DataFrame({
        "subject": subjects, "group": roles, "role": roles,
        "age": rng.normal(24, 4, len(subjects)).round(),
        "bdi": rng.gamma(0.8, 4, len(subjects)).round(),
        "practice_minutes": rng.normal(1800, 400, len(subjects)),
    })
    rows = []
    for s, role in zip(subjects, roles):
        shift = rng.normal(0, 1, 3)
        for k, session in enumerate(SESSIONS):
            for video in ("HE", "LE"):
                for trial in range(trials):
                    base = 2.0 * (video == "HE") + 0.4 * k * (role == "affect")
                    values = base + shift + rng.normal(0, 1, 3)
                    rows.append({"subject": s, "group": role, "session": session,
                                 "trial": trial, "video_type": video,
                                 "empathy": values[0], "positive_affect": -values[1],
                                 "negative_affect": values[2]})
    ratings = pd.DataFrame(rows)
    memory = pd.DataFrame([{"subject": s, "group": r, "session": ses,
                            "recalled": rng.normal(14 + 2 * k * (r == "memory"), 3),
                            "recalled_in_position": rng.normal(8 + k * (r == "memory"), 2)}
                           for s, r in zip(subjects, roles)
                           for k, ses in enumerate(SESSIONS)])
    return ratings, participants, memory


@pytest.fixture(scope="module")
def data():
    return paper_shaped()


def _numpy_pillai(y: np.ndarray, x: np.ndarray, column: int):
    """Exact multivariate test of one coefficient from the SSCP matrices."""
    xtx_inv = np.linalg.inv(x.T @ x)
    b = xtx_inv @ x.T @ y
    resid = y - x @ b
    e = resid.T @ resid
    lb = b[column:column + 1]
    h = lb.T @ np.linalg.inv(xtx_inv[column:column + 1, column:column + 1]) @ lb
    v = np.trace(h @ np.linalg.inv(h + e))
    p = y.shape[1]
    df_e = len(y) - x.shape[1]
    return v, (df_e - p + 1) / p * v / (1 - v)


def test_paper_degrees_of_freedom(data):
    ratings, participants, memory = data
    manova = sovt_manova(ratings, participants, SESSIONS, COVARIATES, False).set_index("effect")
    assert tuple(manova.loc["video", ["df1", "df2"]]) == (3, 47)
    assert tuple(manova.loc["video x group", ["df1", "df2"]]) == (3, 47)
    assert tuple(manova.loc["time x group", ["df1", "df2"]]) == (6, 44)
    assert tuple(manova.loc["time x video x group", ["df1", "df2"]]) == (6, 44)
    two_missing = memory[~memory.subject.isin(["03", "40"])]
    mem = memory_manova(two_missing, participants, SESSIONS,
                        ["recalled", "recalled_in_position"], COVARIATES, False)
    mem = mem.set_index("effect")
    assert tuple(mem.loc["group", ["df1", "df2", "n"]]) == (2, 46, 51)
    assert tuple(mem.loc["time x group", ["df1", "df2", "n"]]) == (4, 44, 51)
    uni = univariate_followups(ratings, participants, SESSIONS, COVARIATES, False)
    row = uni[(uni.rating == "empathy") & (uni.effect == "video x group")].iloc[0]
    assert (row.df1, row.df2) == (1, 49)


@pytest.mark.parametrize("center", [False, True])
def test_f_and_pillai_match_sscp_computation(data, center):
    ratings, participants, _ = data
    wide = cell_means(ratings, SESSIONS)
    subjects = participants.set_index("subject").loc[wide.index]
    x = design_matrix(subjects, COVARIATES, center)
    manova = sovt_manova(ratings, participants, SESSIONS, COVARIATES, center).set_index("effect")
    for effect, kind, column in (("video", "video", 0), ("video x group", "video", 1),
                                 ("time", "time", 0), ("time x group", "time", 1),
                                 ("time x video x group", "time_video", 1),
                                 ("group", "mean", 1)):
        y = contrast_scores(wide, kind, SESSIONS).to_numpy()
        v, f = _numpy_pillai(y, x.to_numpy(), column)
        assert manova.loc[effect, "pillai"] == pytest.approx(v, abs=1e-8)
        assert manova.loc[effect, "F"] == pytest.approx(f, rel=1e-8, abs=1e-8)
        assert manova.loc[effect, "partial_eta2"] == manova.loc[effect, "pillai"]


def test_paper_eta2_back_computed_from_f():
    """The paper's eta^2 equal V = F p / (F p + df2): the method is the exact one-row test."""
    for f, p, df2, eta2 in ((8.18, 3, 47, .34), (2.85, 3, 47, .15), (6.01, 6, 44, .45),
                            (2.3, 6, 44, .24), (11.35, 2, 46, .33), (11, 4, 44, .50)):
        assert f * p / (f * p + df2) == pytest.approx(eta2, abs=0.006)


def test_univariate_follow_up_equals_pingouin_ancova(data):
    ratings, participants, _ = data
    wide = cell_means(ratings, SESSIONS)
    score = contrast_scores(wide, "video", SESSIONS)["empathy"].rename("score")
    frame = participants.set_index("subject").loc[wide.index].join(score)
    ancova = pg.ancova(frame.reset_index(), dv="score", between="role", covar=COVARIATES)
    ours = univariate_followups(ratings, participants, SESSIONS, COVARIATES, False)
    row = ours[(ours.rating == "empathy") & (ours.effect == "video x group")].iloc[0]
    assert row.F == pytest.approx(ancova.loc[0, "F"], rel=1e-8)
    assert row.p == pytest.approx(ancova.loc[0, "p_unc"], rel=1e-6)


def test_between_group_tests_are_student_not_welch(data):
    ratings, participants, _ = data
    # Make the groups' variances differ so that Welch's df would not be 51.
    ratings = ratings.copy()
    memory_rows = ratings.group == "memory"
    ratings.loc[memory_rows, "empathy"] *= 3
    tests = sovt_ttests(ratings, participants, SESSIONS)
    between = tests[tests.test == "between groups"]
    assert len(between) == 3 * 3 * 3
    assert (between.dof == 51).all()
    within = tests[tests.test == "within group"]
    assert set(within[within.group == "affect"].dof) == {24}
    assert set(within[within.group == "memory"].dof) == {27}
    assert set(tests[tests.test == "HE vs LE"].dof) == {52}


def test_centring_changes_within_effects_not_group_interactions(data):
    ratings, participants, _ = data
    raw = sovt_manova(ratings, participants, SESSIONS, COVARIATES, False).set_index("effect")
    centred = sovt_manova(ratings, participants, SESSIONS, COVARIATES, True).set_index("effect")
    for effect in ("video x group", "time x group", "time x video x group", "group"):
        assert raw.loc[effect, "F"] == pytest.approx(centred.loc[effect, "F"], rel=1e-10)
    for effect in ("video", "time"):
        assert abs(raw.loc[effect, "F"] - centred.loc[effect, "F"]) > 1e-3
    assert centred.covariates.iloc[0] == "centred"
    assert raw.covariates.iloc[0].startswith("uncentred")
    # the uncentred table carries the centred test beside it, equal to the centred run
    for column in ("F", "p", "pillai"):
        np.testing.assert_allclose(raw[f"{column}_centred"], centred[column], rtol=1e-10)
        np.testing.assert_allclose(centred[f"{column}_centred"], centred[column], rtol=1e-12)


def test_follow_up_statistics_are_named_for_what_they_are(data):
    ratings, participants, _ = data
    table = univariate_followups(ratings, participants, SESSIONS, COVARIATES, False)
    time = table[table.effect == "time"]
    assert set(time.df1) == {2} and set(time.df2) == {48}
    assert time.statistic.str.startswith("multivariate exact F").all()
    video = table[table.effect == "video"]
    assert set(video.df1) == {1} and video.statistic.str.contains("univariate F").all()


def test_paired_tests_report_dz(data):
    ratings, participants, _ = data
    tests = sovt_ttests(ratings, participants, SESSIONS)
    paired = tests[tests.test != "between groups"]
    np.testing.assert_allclose(paired.cohen_dz, paired["T"] / np.sqrt(paired.n))
    assert set(paired.cohen_d_type) == {"d_av"}
    assert tests.loc[tests.test == "between groups", "cohen_dz"].isna().all()


def test_correlations_and_memory_ttests(data):
    ratings, participants, memory = data
    corr = practice_correlations(ratings, participants, SESSIONS)
    assert len(corr) == 6 and (corr.n == 25).all() and corr.r.between(-1, 1).all()
    mem = memory_ttests(memory, participants, SESSIONS, ["recalled", "recalled_in_position"])
    assert len(mem) == 8
    assert (mem.loc[mem.group == "memory", "T"] > 0).all()  # planted improvement


def test_paper_comparison_covers_every_reported_statistic(data):
    ratings, participants, memory = data
    scores = ["recalled", "recalled_in_position"]
    tables = {
        "manova": sovt_manova(ratings, participants, SESSIONS, COVARIATES, False),
        "univariate": univariate_followups(ratings, participants, SESSIONS, COVARIATES, False),
        "ttests": sovt_ttests(ratings, participants, SESSIONS),
        "correlations": practice_correlations(ratings, participants, SESSIONS),
        "memory_manova": memory_manova(memory, participants, SESSIONS, scores, COVARIATES,
                                       False),
        "memory_ttests": memory_ttests(memory, participants, SESSIONS, scores),
    }
    table = compare_with_paper(tables)
    assert len(table) == len(REPORTED)
    row = table[table.statistic == "video type"].iloc[0]
    assert row.paper_df == row.our_df == "3,47"
    assert row.agree == (row.our_p < 0.05)
    # A significant result in the wrong direction does not count as agreement.
    flipped = {k: v.copy() for k, v in tables.items()}
    sel = (flipped["ttests"].test == "within group") & (flipped["ttests"].group == "affect")
    flipped["ttests"].loc[sel, "T"] *= -1
    flipped["ttests"].loc[sel, "p"] = 0.001
    table = compare_with_paper(flipped).set_index("statistic")
    assert not table.loc["empathy Pre->Post1", "agree"]
