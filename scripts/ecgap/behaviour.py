"""Behaviour: the multivariate approach to repeated measures, follow-ups, paper comparison.

Each subject's repeated measures are turned into within-subject contrast scores, and one
multivariate linear model is fitted across subjects: intercept + group (effect-coded)
+ covariates. A within effect is the test of the intercept of its scores; its interaction
with group is the test of the group coefficient; the group main effect uses each
subject's mean over all cells. With one hypothesis row, Pillai, Wilks, Hotelling and Roy
give the same exact F on (p, df_e - p + 1) df, and partial eta^2 = Pillai's V.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pingouin as pg
import statsmodels.api as sm
from statsmodels.multivariate.manova import MANOVA

from ecgap.io import InputError

RATINGS = ("empathy", "positive_affect", "negative_affect")
VIDEO_TYPES = ("HE", "LE")

#: Effects of the SoVT MANOVA: (name, kind of scores, tested coefficient).
SOVT_EFFECTS = (
    ("video", "video", "Intercept"),
    ("video x group", "video", "group"),
    ("time", "time", "Intercept"),
    ("time x group", "time", "group"),
    ("time x video", "time_video", "Intercept"),
    ("time x video x group", "time_video", "group"),
    ("group", "mean", "group"),
)


@dataclass(frozen=True)
class MultivariateTest:
    """One exact multivariate test (single hypothesis row)."""

    effect: str
    pillai: float
    f: float
    df1: int
    df2: int
    p: float
    n: int

    @property
    def partial_eta2(self) -> float:
        return self.pillai


def design_matrix(subjects: pd.DataFrame, covariates: Sequence[str], center: bool,
                  affect: str = "affect") -> pd.DataFrame:
    """Intercept, effect-coded group (+1 affect, -1 memory) and covariates, per subject.

    ``center=False`` keeps covariates in their raw units, as SPSS does; within-subject
    effects are then evaluated at covariate values of zero.
    """
    x = pd.DataFrame({"Intercept": 1.0,
                      "group": np.where(subjects["group"] == affect, 1.0, -1.0)},
                     index=subjects.index)
    for name in covariates:
        values = subjects[name].astype(float)
        x[name] = values - values.mean() if center else values
    return x


def multivariate_test(scores: pd.DataFrame, x: pd.DataFrame, coefficient: str,
                      effect: str) -> MultivariateTest:
    """Exact F test of one coefficient of the multivariate model ``scores ~ x``.

    Uses statsmodels' MANOVA with an explicit one-row hypothesis matrix.
    """
    n, p = scores.shape
    if n - x.shape[1] - p + 1 < 1:
        raise InputError("participants", f"{effect!r} has {p} dependent variables and "
                                         f"{x.shape[1]} model terms: it needs at least "
                                         f"{x.shape[1] + p} subjects with complete data, "
                                         f"got {n}")
    contrast = np.zeros((1, x.shape[1]))
    contrast[0, list(x.columns).index(coefficient)] = 1.0
    if p == 1:
        # statsmodels' MANOVA needs two or more DVs; with one, the exact F is the OLS F.
        test = sm.OLS(scores.to_numpy(float)[:, 0], x.to_numpy(float)).fit().f_test(contrast)
        f, df1, df2 = float(np.squeeze(test.fvalue)), int(test.df_num), int(test.df_denom)
        return MultivariateTest(effect=effect, pillai=f * df1 / (f * df1 + df2), f=f,
                                df1=df1, df2=df2, p=float(test.pvalue), n=len(scores))
    fit = MANOVA(endog=scores.to_numpy(float), exog=x.to_numpy(float))
    result = fit.mv_test(hypotheses=[(effect, contrast)])
    row = result.results[effect]["stat"].loc["Pillai's trace"]
    return MultivariateTest(effect=effect, pillai=float(row["Value"]),
                            f=float(row["F Value"]), df1=int(round(row["Num DF"])),
                            df2=int(round(row["Den DF"])), p=float(row["Pr > F"]),
                            n=len(scores))


def cell_means(ratings: pd.DataFrame, sessions: Sequence[str]) -> pd.DataFrame:
    """Subject x (rating, session, video type) table of mean ratings."""
    means = ratings.groupby(["subject", "session", "video_type"])[list(RATINGS)].mean()
    wide = means.unstack(["session", "video_type"])
    wide.columns = wide.columns.set_names(["rating", "session", "video_type"])
    missing = [(r, s, v) for r in RATINGS for s in sessions for v in VIDEO_TYPES
               if (r, s, v) not in wide.columns]
    if missing:
        raise InputError("ratings", f"no ratings for cells {missing[:3]}")
    return wide  # a subject lacking a session has n/a cells; the MANOVAs drop it listwise


def contrast_scores(wide: pd.DataFrame, kind: str, sessions: Sequence[str],
                    ratings: Iterable[str] = RATINGS) -> pd.DataFrame:
    """Within-subject contrast scores of one kind, one column per rating (and period).

    video: HE - LE averaged over sessions; time: delta1 = Post1 - Pre and delta2 =
    Post2 - Post1 averaged over video type; time_video: delta1 and delta2 of HE - LE;
    mean: the subject's mean over all cells.
    """
    pre, post1, post2 = sessions
    out = {}
    for r in ratings:
        cell = wide[r]
        he_minus_le = {s: cell[(s, "HE")] - cell[(s, "LE")] for s in sessions}
        mean_video = {s: (cell[(s, "HE")] + cell[(s, "LE")]) / 2 for s in sessions}
        if kind == "video":
            out[r] = sum(he_minus_le.values()) / len(sessions)
        elif kind in ("time", "time_video"):
            source = mean_video if kind == "time" else he_minus_le
            out[f"{r}_delta1"] = source[post1] - source[pre]
            out[f"{r}_delta2"] = source[post2] - source[post1]
        elif kind == "mean":
            out[r] = cell.mean(axis=1)
        else:
            raise ValueError(f"unknown contrast kind {kind!r}")
    return pd.DataFrame(out)


def _subjects(participants: pd.DataFrame, index: pd.Index,
              covariates: Sequence[str]) -> pd.DataFrame:
    table = participants.set_index("subject").loc[index]
    # A subject whose covariate is n/a in participants.tsv is left out of the models that
    # adjust for it; the tables' n column reports who is left.
    table = table[table[list(covariates)].notna().all(axis=1)]
    if "role" in table:  # ingest keeps the file's label in group and the study role in role
        table = table.drop(columns="group", errors="ignore").rename(columns={"role": "group"})
    return table


def sovt_manova(ratings: pd.DataFrame, participants: pd.DataFrame, sessions: Sequence[str],
                covariates: Sequence[str], center: bool,
                ratings_used: Sequence[str] = RATINGS) -> pd.DataFrame:
    """The SoVT repeated-measures MANOVA (all ratings) as a table, one row per effect."""
    wide = cell_means(ratings, sessions).dropna()  # listwise, as SPSS's repeated measures
    subjects = _subjects(participants, wide.index, covariates)
    wide = wide.loc[subjects.index]
    tests = [(effect, contrast_scores(wide, kind, sessions, ratings_used), coefficient)
             for effect, kind, coefficient in SOVT_EFFECTS]
    return _table(tests, subjects, covariates, center)


def univariate_followups(ratings: pd.DataFrame, participants: pd.DataFrame,
                         sessions: Sequence[str], covariates: Sequence[str],
                         center: bool) -> pd.DataFrame:
    """The same tests per rating: F(1, 49) for video effects (one contrast score: the
    univariate F), F(2, 48) for time effects: the multivariate F over the two session
    differences, not SPSS's sphericity-assumed univariate F(2, 98) (see ``statistic``)."""
    frames = []
    for rating in RATINGS:
        table = sovt_manova(ratings, participants, sessions, covariates, center, [rating])
        frames.append(table.assign(rating=rating))
    out = pd.concat(frames, ignore_index=True)
    return out[["rating", *[c for c in out.columns if c != "rating"]]]


def statistic_label(df1: int) -> str:
    """What an F row is: one contrast score gives the univariate F; several, the
    multivariate exact F of Pillai's trace (not SPSS's sphericity-assumed univariate F)."""
    if df1 == 1:
        return "exact F, one contrast score (= univariate F)"
    return f"multivariate exact F (Pillai) over {df1} contrast scores"


def _table(tests: list[tuple[str, pd.DataFrame, str]], subjects: pd.DataFrame,
           covariates: Sequence[str], center: bool) -> pd.DataFrame:
    """One row per (effect, scores, tested coefficient), in the configured covariate
    convention, with the same test at mean covariates (centred) beside it.

    Uncentred covariates (SPSS's GLM) evaluate within-subject effects at covariate
    values of 0 (age 0, BDI 0); centred ones at the sample means. Effects involving
    group do not depend on the centring.
    """
    designs = (design_matrix(subjects, covariates, center),
               design_matrix(subjects, covariates, True))
    rows = []
    for effect, scores, coefficient in tests:
        t, c = (multivariate_test(scores, x, coefficient, effect) for x in designs)
        rows.append({
            "effect": t.effect, "pillai": t.pillai, "F": t.f, "df1": t.df1, "df2": t.df2,
            "p": t.p, "partial_eta2": t.partial_eta2, "n": t.n,
            "covariates": "centred" if center else "uncentred (SPSS convention)",
            "statistic": statistic_label(t.df1),
            "pillai_centred": c.pillai, "F_centred": c.f, "p_centred": c.p})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- t-tests

def _ttest_row(test: str, group: str, measure: str, contrast: str,
               result: pd.DataFrame, n: int) -> dict[str, object]:
    row = result.iloc[0]
    low, high = row["CI95"]
    paired = test != "between groups"
    return {"test": test, "group": group, "measure": measure, "contrast": contrast,
            "T": float(row["T"]), "dof": float(row["dof"]), "p": float(row["p_val"]),
            "cohen_d": float(row["cohen_d"]),
            # pingouin's paired d is d_av (mean / average sd of the two measures); d_z
            # (mean / sd of the differences = t / sqrt(n)) is what a paired power uses.
            "cohen_d_type": "d_av" if paired else "d_s (pooled sd)",
            "cohen_dz": float(row["T"]) / np.sqrt(n) if paired else np.nan,
            "ci95_low": float(low), "ci95_high": float(high), "n": n}


def session_means(wide: pd.DataFrame, video: str | None) -> dict[str, pd.DataFrame]:
    """Per rating: subject x session means, for one video type or averaged over both."""
    out = {}
    for rating in RATINGS:
        cell = wide[rating]
        if video is None:
            out[rating] = cell.T.groupby(level="session").mean().T
        else:
            out[rating] = cell.xs(video, axis=1, level="video_type")
    return out


def _pairs(first: pd.Series, second: pd.Series) -> int:
    """Subjects with both values (pingouin drops incomplete pairs)."""
    return int((first.notna() & second.notna()).sum())


def sovt_ttests(ratings: pd.DataFrame, participants: pd.DataFrame,
                sessions: Sequence[str]) -> pd.DataFrame:
    """Paired t-tests (sessions within group; HE vs LE across all) and Student t-tests
    between groups per session. Independent tests use ``correction=False``: the paper's
    df (51 = 25 + 28 - 2) are Student's, not Welch's."""
    wide = cell_means(ratings, sessions)
    group = _subjects(participants, wide.index, [])["group"]
    rows = []
    pre, post1, post2 = sessions
    for rating in RATINGS:
        he = wide[rating].xs("HE", axis=1, level="video_type").mean(axis=1)
        le = wide[rating].xs("LE", axis=1, level="video_type").mean(axis=1)
        rows.append(_ttest_row("HE vs LE", "all", rating, "HE - LE",
                               pg.ttest(he, le, paired=True), _pairs(he, le)))
    for video in (None, "HE", "LE"):
        label = "all videos" if video is None else video
        for rating, table in session_means(wide, video).items():
            measure = f"{rating} ({label})"
            for name in ("affect", "memory"):
                sel = table[group == name]
                for a, b, contrast in ((pre, post1, "delta1"), (post1, post2, "delta2")):
                    result = pg.ttest(sel[b], sel[a], paired=True)
                    rows.append(_ttest_row("within group", name, measure,
                                           f"{contrast} ({b} - {a})", result,
                                           _pairs(sel[a], sel[b])))
            for session in sessions:
                a = table.loc[group == "affect", session]
                m = table.loc[group == "memory", session]
                result = pg.ttest(a, m, paired=False, correction=False)
                rows.append(_ttest_row("between groups", "affect - memory", measure,
                                       session, result,
                                       int(a.notna().sum() + m.notna().sum())))
    return pd.DataFrame(rows)


def practice_correlations(ratings: pd.DataFrame, participants: pd.DataFrame,
                          sessions: Sequence[str], group: str = "affect",
                          column: str = "practice_minutes") -> pd.DataFrame:
    """Pearson correlations of rating changes (delta1, delta2) with practice duration."""
    wide = cell_means(ratings, sessions)
    subjects = _subjects(participants, wide.index, [])
    if column not in subjects:
        return pd.DataFrame(columns=["group", "measure", "with", "n", "r", "ci95_low",
                                     "ci95_high", "p"])
    keep = (subjects["group"] == group) & subjects[column].notna()
    scores = contrast_scores(wide, "time", sessions)[keep]
    rows = []
    for measure in scores.columns:
        result = pg.corr(scores[measure], subjects.loc[keep, column]).iloc[0]
        low, high = result["CI95"]
        rows.append({"group": group, "measure": measure, "with": column,
                     "n": int(result["n"]), "r": float(result["r"]),
                     "ci95_low": float(low), "ci95_high": float(high),
                     "p": float(result["p_val"])})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- memory task

def memory_manova(memory: pd.DataFrame, participants: pd.DataFrame, sessions: Sequence[str],
                  scores: Sequence[str], covariates: Sequence[str],
                  center: bool) -> pd.DataFrame:
    """Time x group MANOVA on the recall scores; subjects lacking any session dropped."""
    wide = _memory_wide(memory, sessions, scores)
    subjects = _subjects(participants, wide.index, covariates)
    wide = wide.loc[subjects.index]
    pre, post1, post2 = sessions
    time = pd.DataFrame({f"{s}_{d}": wide[(s, b)] - wide[(s, a)] for s in scores
                         for a, b, d in ((pre, post1, "delta1"), (post1, post2, "delta2"))})
    mean = pd.DataFrame({s: wide[s].mean(axis=1) for s in scores})
    tests = [("time", time, "Intercept"), ("time x group", time, "group"),
             ("group", mean, "group")]
    return _table(tests, subjects, covariates, center)


def memory_ttests(memory: pd.DataFrame, participants: pd.DataFrame, sessions: Sequence[str],
                  scores: Sequence[str]) -> pd.DataFrame:
    """Paired t-tests of each recall score between consecutive sessions within each group."""
    wide = _memory_wide(memory, sessions, scores)
    group = _subjects(participants, wide.index, [])["group"]
    pre, post1, post2 = sessions
    rows = []
    for score in scores:
        for name in ("affect", "memory"):
            sel = wide[score][group == name]
            for a, b, contrast in ((pre, post1, "delta1"), (post1, post2, "delta2")):
                rows.append(_ttest_row("within group", name, score, f"{contrast} ({b} - {a})",
                                       pg.ttest(sel[b], sel[a], paired=True), len(sel)))
    return pd.DataFrame(rows)


def _memory_wide(memory: pd.DataFrame, sessions: Sequence[str],
                 scores: Sequence[str]) -> pd.DataFrame:
    wide = memory.pivot_table(index="subject", columns="session", values=list(scores))
    wide = wide.reindex(columns=pd.MultiIndex.from_product([list(scores), list(sessions)]))
    return wide.dropna()  # listwise: a subject needs every score at every session


def all_tables(ratings: pd.DataFrame, participants: pd.DataFrame, memory: pd.DataFrame,
               sessions: Sequence[str], covariates: Sequence[str], center: bool,
               scores: Sequence[str],
               practice_column: str = "practice_minutes") -> dict[str, pd.DataFrame]:
    """Every behavioural table, keyed as :func:`ecgap.paper.compare_with_paper` expects."""
    return {
        "manova": sovt_manova(ratings, participants, sessions, covariates, center),
        "univariate": univariate_followups(ratings, participants, sessions, covariates,
                                           center),
        "ttests": sovt_ttests(ratings, participants, sessions),
        "correlations": practice_correlations(ratings, participants, sessions,
                                              column=practice_column),
        "memory_manova": memory_manova(memory, participants, sessions, scores, covariates,
                                       center),
        "memory_ttests": memory_ttests(memory, participants, sessions, scores),
    }
