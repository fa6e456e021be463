"""The behavioural statistics: exact df, F and V against numpy, Student not Welch,
covariate centring, and the paper comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from conftest import PAPER
from ecgap.behaviour import (contrast_scores, design_matrix,
                             practice_correlations, rating_ttests, ratings_manova,
                             scores_manova, scores_ttests, univariate_followups)
from ecgap.paper import REPORTED, compare_with_paper
from ecgap.ratings import cell_means

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
    manova = ratings_manova(ratings, participants, PAPER, COVARIATES, False).set_index("effect")
    assert tuple(manova.loc["video", ["df1", "df2"]]) == (3, 47)
    assert tuple(manova.loc["video x group", ["df1", "df2"]]) == (3, 47)
    assert tuple(manova.loc["time x group", ["df1", "df2"]]) == (6, 44)
    assert tuple(manova.loc["time x video x group", ["df1", "df2"]]) == (6, 44)
    two_missing = memory[~memory.subject.isin(["03", "40"])]
    mem = scores_manova(two_missing, participants, PAPER, COVARIATES, False)
    mem = mem.set_index("effect")
    assert tuple(mem.loc["group", ["df1", "df2", "n"]]) == (2, 46, 51)
    assert tuple(mem.loc["time x group", ["df1", "df2", "n"]]) == (4, 44, 51)
    uni = univariate_followups(ratings, participants, PAPER, COVARIATES, False)
    row = uni[(uni.rating == "empathy") & (uni.effect == "video x group")].iloc[0]
    assert (row.df1, row.df2) == (1, 49)


@pytest.mark.parametrize("center", [False, True])
def test_f_and_pillai_match_sscp_computation(data, center):
    ratings, participants, _ = data
    wide = cell_means(ratings, PAPER)
    subjects = participants.set_index("subject").loc[wide.index]
    x = design_matrix(subjects, COVARIATES, center, PAPER)
    manova = ratings_manova(ratings, participants, PAPER, COVARIATES, center).set_index("effect")
    for effect, kind, column in (("video", "video", 0), ("video x group", "video", 1),
                                 ("time", "time", 0), ("time x group", "time", 1),
                                 ("time x video x group", "time_video", 1),
                                 ("group", "mean", 1)):
        y = contrast_scores(wide, kind, PAPER).to_numpy()
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
    wide = cell_means(ratings, PAPER)
    score = contrast_scores(wide, "video", PAPER)["empathy"].rename("score")
    frame = participants.set_index("subject").loc[wide.index].join(score)
    ancova = pg.ancova(frame.reset_index(), dv="score", between="role", covar=COVARIATES)
    ours = univariate_followups(ratings, participants, PAPER, COVARIATES, False)
    row = ours[(ours.rating == "empathy") & (ours.effect == "video x group")].iloc[0]
    assert row.F == pytest.approx(ancova.loc[0, "F"], rel=1e-8)
    assert row.p == pytest.approx(ancova.loc[0, "p_unc"], rel=1e-6)


def test_between_group_tests_are_student_not_welch(data):
    ratings, participants, _ = data
    # Make the groups' variances differ so that Welch's df would not be 51.
    ratings = ratings.copy()
    memory_rows = ratings.group == "memory"
    ratings.loc[memory_rows, "empathy"] *= 3
    tests = rating_ttests(ratings, participants, PAPER)
    between = tests[tests.test == "between groups"]
    assert len(between) == 3 * 3 * 3
    assert (between.dof == 51).all()
    within = tests[tests.test == "within group"]
    assert set(within[within.group == "affect"].dof) == {24}
    assert set(within[within.group == "memory"].dof) == {27}
    assert set(tests[tests.test == "HE vs LE"].dof) == {52}


def test_centring_changes_within_effects_not_group_interactions(data):
    ratings, participants, _ = data
    raw = ratings_manova(ratings, participants, PAPER, COVARIATES, False).set_index("effect")
    centred = ratings_manova(ratings, participants, PAPER, COVARIATES, True).set_index("effect")
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
    table = univariate_followups(ratings, participants, PAPER, COVARIATES, False)
    time = table[table.effect == "time"]
    assert set(time.df1) == {2} and set(time.df2) == {48}
    assert time.statistic.str.startswith("multivariate exact F").all()
    video = table[table.effect == "video"]
    assert set(video.df1) == {1} and video.statistic.str.contains("univariate F").all()


def test_paired_tests_report_dz(data):
    ratings, participants, _ = data
    tests = rating_ttests(ratings, participants, PAPER)
    paired = tests[tests.test != "between groups"]
    np.testing.assert_allclose(paired.cohen_dz, paired["T"] / np.sqrt(paired.n))
    assert set(paired.cohen_d_type) == {"d_av"}
    assert tests.loc[tests.test == "between groups", "cohen_dz"].isna().all()


def test_correlations_and_memory_ttests(data):
    ratings, participants, memory = data
    corr = practice_correlations(ratings, participants, PAPER)
    assert len(corr) == 6 and (corr.n == 25).all() and corr.r.between(-1, 1).all()
    mem = scores_ttests(memory, participants, PAPER)
    assert len(mem) == 8
    assert (mem.loc[mem.group == "memory", "T"] > 0).all()  # planted improvement


def test_paper_comparison_covers_every_reported_statistic(data):
    ratings, participants, memory = data
    scores = ["recalled", "recalled_in_position"]
    tables = {
        "manova": ratings_manova(ratings, participants, PAPER, COVARIATES, False),
        "univariate": univariate_followups(ratings, participants, PAPER, COVARIATES, False),
        "ttests": rating_ttests(ratings, participants, PAPER),
        "correlations": practice_correlations(ratings, participants, PAPER),
        "memory_manova": scores_manova(memory, participants, PAPER, COVARIATES, False),
        "memory_ttests": scores_ttests(memory, participants, PAPER),
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


# ------------------------------------------------------------------ other designs

def _study(**design) -> "Design":
    from ecgap.config import validate_config
    from ecgap.design import Design
    return Design.of_study(validate_config({"design": design})["design"])


THREE_GROUPS = dict(groups=[{"name": "affect"}, {"name": "perspective"},
                            {"name": "memory", "control": True}],
                    sessions=["pre", "post"])
FOUR_SESSIONS = dict(sessions=["s1", "s2", "s3", "s4"])


def synthetic(design, n_per_group=12, trials=2, seed=1):
    """Random ratings, scores and participants for any design; each trained group's
    ratings rise over sessions by its own slope."""
    rng = np.random.default_rng(seed)
    people, rows, scores = [], [], []
    for g, group in enumerate(design.groups):
        for i in range(n_per_group):
            subject = f"{g}{i:02d}"
            people.append({"subject": subject, "group": group.name, "role": group.name,
                           "age": rng.normal(24, 4), "bdi": rng.gamma(0.8, 4),
                           "practice_minutes": rng.normal(1800, 400)})
            shift = rng.normal(0, 1, len(design.ratings))
            for k, session in enumerate(design.sessions):
                scores.append({"subject": subject, "group": group.name, "session": session,
                               **{s: rng.normal(10 + k * (g == 0), 2) for s in design.scores}})
                for c, condition in enumerate(design.condition_names):
                    for trial in range(trials):
                        values = (shift + 1.5 * (c == 0) + 0.3 * g * k
                                  + rng.normal(0, 1, len(design.ratings)))
                        rows.append({"subject": subject, "group": group.name,
                                     "session": session, "trial": trial,
                                     "video_type": condition,
                                     **dict(zip(design.rating_names, values))})
    return pd.DataFrame(rows), pd.DataFrame(people), pd.DataFrame(scores)


def _numpy_pillai_rows(y: np.ndarray, x: np.ndarray, columns: list[int]):
    """Pillai's trace of a q-row hypothesis and its approximate F (Rao/Pillai)."""
    n, p = y.shape
    xtx_inv = np.linalg.inv(x.T @ x)
    b = xtx_inv @ x.T @ y
    resid = y - x @ b
    e = resid.T @ resid
    lmat = np.zeros((len(columns), x.shape[1]))
    lmat[np.arange(len(columns)), columns] = 1.0
    lb = lmat @ b
    h = lb.T @ np.linalg.inv(lmat @ xtx_inv @ lmat.T) @ lb
    v = float(np.trace(h @ np.linalg.inv(h + e)))
    q, df_e = len(columns), n - x.shape[1]
    s, m, nn = min(p, q), (abs(p - q) - 1) / 2, (df_e - p - 1) / 2
    f = (2 * nn + s + 1) / (2 * m + s + 1) * v / (s - v)
    return v, f, s * (2 * m + s + 1), s * (2 * nn + s + 1)


@pytest.mark.parametrize("shape", [THREE_GROUPS, FOUR_SESSIONS], ids=["3x2", "2x4"])
def test_manova_of_other_designs_matches_the_sscp_computation(shape):
    """3 groups x 2 sessions (Pillai's approximate F over 2 group rows) and 2 groups x 4
    sessions (exact F over 3 periods x 3 ratings) against numpy."""
    design = _study(**shape)
    ratings, participants, _ = synthetic(design)
    wide = cell_means(ratings, design)
    subjects = participants.set_index("subject").loc[wide.index]
    x = design_matrix(subjects, COVARIATES, False, design)
    groups = [i for i, c in enumerate(x.columns) if c.startswith("group")]
    assert len(groups) == len(design.groups) - 1
    manova = ratings_manova(ratings, participants, design, COVARIATES, False).set_index("effect")
    for effect, kind, columns in (("time", "time", [0]), ("time x group", "time", groups),
                                  ("video x group", "video", groups),
                                  ("time x video x group", "time_video", groups),
                                  ("group", "mean", groups)):
        y = contrast_scores(wide, kind, design).to_numpy()
        v, f, df1, df2 = _numpy_pillai_rows(y, x.to_numpy(), columns)
        row = manova.loc[effect]
        assert row.pillai == pytest.approx(v, abs=1e-9)
        assert row.F == pytest.approx(f, rel=1e-8)
        assert (row.df1, row.df2) == (round(df1), round(df2))
        s = min(y.shape[1], len(columns))
        assert row.partial_eta2 == pytest.approx(v / s)
        assert row.statistic.startswith("approximate F" if s > 1 else "multivariate exact F")


def test_one_rating_three_groups_time_x_group_equals_the_ancova():
    """2 sessions, 3 groups, one rating: time x group is the ANCOVA of the change score."""
    design = _study(**THREE_GROUPS, ratings=[{"name": "arousal"}])
    ratings, participants, _ = synthetic(design)
    ours = ratings_manova(ratings, participants, design, COVARIATES, False)
    row = ours.set_index("effect").loc["time x group"]
    change = contrast_scores(cell_means(ratings, design), "time", design)["arousal_delta1"]
    frame = participants.set_index("subject").join(change.rename("change")).reset_index()
    ancova = pg.ancova(frame, dv="change", between="role", covar=COVARIATES)
    assert (row.df1, row.df2) == (2, len(frame) - 3 - 2)
    assert row.F == pytest.approx(ancova.loc[0, "F"], rel=1e-8)


def test_baseline_periods_give_the_same_manova_and_other_t_tests():
    consecutive = _study(**FOUR_SESSIONS)
    baseline = _study(**FOUR_SESSIONS, change_periods={"reference": "baseline"})
    ratings, participants, _ = synthetic(consecutive)
    a = ratings_manova(ratings, participants, consecutive, COVARIATES, False)
    b = ratings_manova(ratings, participants, baseline, COVARIATES, False)
    np.testing.assert_allclose(a.F, b.F, rtol=1e-8)
    ta, tb = (rating_ttests(ratings, participants, d) for d in (consecutive, baseline))
    assert set(ta.contrast) != set(tb.contrast) and "delta3 (s4 - s1)" in set(tb.contrast)


def test_which_group_is_the_control_does_not_change_the_group_effects():
    design = _study(**THREE_GROUPS)
    other = _study(groups=[{"name": "affect", "control": True}, {"name": "perspective"},
                           {"name": "memory"}], sessions=["pre", "post"])
    ratings, participants, _ = synthetic(design)
    a = ratings_manova(ratings, participants, design, COVARIATES, True).set_index("effect")
    b = ratings_manova(ratings, participants, other, COVARIATES, True).set_index("effect")
    for effect in ("video x group", "time x group", "group"):
        assert a.loc[effect, "F"] == pytest.approx(b.loc[effect, "F"], rel=1e-8)


def test_a_single_condition_has_no_condition_effects():
    design = _study(conditions=[{"name": "task"}], contrasts=None, sessions=["t1", "t2"])
    ratings, participants, scores = synthetic(design)
    manova = ratings_manova(ratings, participants, design, COVARIATES, False)
    assert list(manova.effect) == ["time", "time x group", "group"]
    tests = rating_ttests(ratings, participants, design)
    assert set(tests.test) == {"within group", "between groups"}
    assert set(tests.measure) == {f"{r} (all videos)" for r in design.rating_names}
    memory = scores_manova(scores, participants, design, COVARIATES, False)
    assert list(memory.effect) == ["time", "time x group", "group"]


def test_a_design_without_ratings_gives_empty_rating_tables():
    design = _study(ratings=[], scores={"columns": []}, sessions=["a", "b"])
    ratings, participants, scores = synthetic(design)
    from ecgap.behaviour import all_tables
    tables = all_tables(ratings, participants, scores, design, COVARIATES, False)
    assert all(t.empty for t in tables.values()) and "effect" in tables["manova"].columns
