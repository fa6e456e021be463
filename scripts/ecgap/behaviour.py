"""Behaviour: the multivariate approach to repeated measures, follow-ups, paper comparison.

Each subject's repeated measures are turned into within-subject contrast scores, and one
multivariate linear model is fitted across subjects: intercept + group (deviation-coded
against the control group) + covariates. A within effect is the test of the intercept
of its scores; its interaction with group is the test of the group coefficients; the
group main effect uses each subject's mean over all cells. With one hypothesis row (two
groups), Pillai, Wilks, Hotelling and Roy give the same exact F on (p, df_e - p + 1) df,
and partial eta^2 = Pillai's V. With three or more groups the group coefficients give
g - 1 hypothesis rows: Pillai's trace with its approximate F, partial eta^2 = V / s.

The design (:class:`ecgap.design.Design`) names the groups, sessions and change periods,
conditions and ratings. The effect names keep the paper's words: "video" is the
condition factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import pingouin as pg
import statsmodels.api as sm
from statsmodels.multivariate.manova import MANOVA

from ecgap.design import Design
from ecgap.io import InputError
from ecgap.ratings import cell_means, session_means

INTERCEPT = "Intercept"
#: Columns of the MANOVA and t-test tables (also of an empty one).
MANOVA_COLUMNS = ["effect", "pillai", "F", "df1", "df2", "p", "partial_eta2", "n", "covariates",
                  "statistic", "pillai_centred", "F_centred", "p_centred"]
TTEST_COLUMNS = ["test", "group", "measure", "contrast", "T", "dof", "p", "cohen_d",
                 "cohen_d_type", "cohen_dz", "ci95_low", "ci95_high", "n"]
CORRELATION_COLUMNS = ["group", "measure", "with", "n", "r", "ci95_low", "ci95_high", "p"]
GROUP = "group"  # stands for every group column of the design matrix


def repeated_measures_effects(design: Design) -> list[tuple[str, str, str]]:
    """(name, kind of scores, tested term) of the repeated-measures MANOVA; the
    condition ("video") effects only with two or more conditions."""
    effects = [("video", "video", INTERCEPT), ("video x group", "video", GROUP),
               ("time", "time", INTERCEPT), ("time x group", "time", GROUP),
               ("time x video", "time_video", INTERCEPT),
               ("time x video x group", "time_video", GROUP), ("group", "mean", GROUP)]
    if len(design.conditions) < 2:
        effects = [e for e in effects if "video" not in e[1]]
    return effects


@dataclass(frozen=True)
class MultivariateTest:
    """One multivariate test: exact F for one hypothesis row, Pillai's approximate F
    otherwise (``s`` = min(dependent variables, hypothesis rows))."""

    effect: str
    pillai: float
    f: float
    df1: int
    df2: int
    p: float
    n: int
    s: int = 1
    scores: int = 1  # dependent variables (contrast scores)

    @property
    def partial_eta2(self) -> float:
        return self.pillai / self.s


def group_columns(design: Design) -> list[str]:
    """The design matrix's group columns: 'group' for two groups, else one per trained
    group ('group_<name>')."""
    if len(design.groups) == 2:
        return [GROUP]
    return [f"{GROUP}_{g.name}" for g in design.trained]


def design_matrix(subjects: pd.DataFrame, covariates: Sequence[str], center: bool,
                  design: Design) -> pd.DataFrame:
    """Intercept, deviation-coded group and covariates, per subject.

    Each trained group's column is +1 for its subjects, -1 for the control group's and 0
    for the others (two groups: +1 trained, -1 control). ``center=False`` keeps
    covariates in their raw units, as SPSS does; within-subject effects are then
    evaluated at covariate values of zero.
    """
    x = pd.DataFrame({INTERCEPT: 1.0}, index=subjects.index)
    group = subjects["group"].to_numpy()
    for column, trained in zip(group_columns(design), design.trained):
        x[column] = np.where(group == trained.name, 1.0,
                             np.where(group == design.control.name, -1.0, 0.0))
    for name in covariates:
        values = subjects[name].astype(float)
        x[name] = values - values.mean() if center else values
    return x


def multivariate_test(scores: pd.DataFrame, x: pd.DataFrame, terms: Sequence[str],
                      effect: str) -> MultivariateTest:
    """F test that the coefficients ``terms`` of the multivariate model ``scores ~ x``
    are zero: exact for one term (or one dependent variable), Pillai's approximate F
    otherwise. Uses statsmodels' MANOVA with an explicit hypothesis matrix."""
    n, p = scores.shape
    if n - x.shape[1] - p + 1 < 1:
        raise InputError("participants", f"{effect!r} has {p} dependent variables and "
                                         f"{x.shape[1]} model terms: it needs at least "
                                         f"{x.shape[1] + p} subjects with complete data, "
                                         f"got {n}")
    contrast = np.zeros((len(terms), x.shape[1]))
    for row, term in enumerate(terms):
        contrast[row, list(x.columns).index(term)] = 1.0
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
                            n=len(scores), s=min(p, len(terms)), scores=p)


def condition_differences(cell: pd.DataFrame, design: Design) -> dict[str, dict[str, pd.Series]]:
    """Per session, each consecutive pair's difference of one rating's cells
    ('HE - LE'), keyed by the pair's label; empty for a single condition."""
    names = design.condition_names
    return {f"{a} - {b}": {s: cell[(s, a)] - cell[(s, b)] for s in design.sessions}
            for a, b in zip(names, names[1:])}


def contrast_scores(wide: pd.DataFrame, kind: str, design: Design,
                    ratings: Sequence[str] | None = None) -> pd.DataFrame:
    """Within-subject contrast scores of one kind, one column per rating (and period,
    and condition difference when there are three or more conditions).

    video: the conditions' consecutive differences averaged over sessions; time: each
    period's change of the mean over conditions; time_video: each period's change of the
    condition differences; mean: the subject's mean over all cells.
    """
    out = {}
    for r in design.rating_names if ratings is None else ratings:
        cell = wide[r]
        differences = condition_differences(cell, design)
        # One difference (two conditions) keeps the rating's plain name.
        suffix = {d: "" if len(differences) == 1 else f"_{d.replace(' - ', 'Minus')}"
                  for d in differences}
        mean_condition = {s: sum(cell[(s, c)] for c in design.condition_names)
                          / len(design.conditions) for s in design.sessions}
        if kind == "video":
            for d, by_session in differences.items():
                out[f"{r}{suffix[d]}"] = sum(by_session.values()) / len(design.sessions)
        elif kind == "time":
            for p in design.periods:
                out[f"{r}_{p.name}"] = mean_condition[p.second] - mean_condition[p.first]
        elif kind == "time_video":
            for d, by_session in differences.items():
                for p in design.periods:
                    out[f"{r}{suffix[d]}_{p.name}"] = by_session[p.second] - by_session[p.first]
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


def ratings_manova(ratings: pd.DataFrame, participants: pd.DataFrame, design: Design,
                   covariates: Sequence[str], center: bool,
                   ratings_used: Sequence[str] | None = None) -> pd.DataFrame:
    """The repeated-measures MANOVA of the ratings (all, or ``ratings_used``) as a
    table, one row per effect (empty when the design has no ratings)."""
    if not design.ratings:
        return pd.DataFrame(columns=MANOVA_COLUMNS)
    wide = cell_means(ratings, design).dropna()  # listwise, as SPSS's repeated measures
    subjects = _subjects(participants, wide.index, covariates)
    wide = wide.loc[subjects.index]
    tests = [(effect, contrast_scores(wide, kind, design, ratings_used), term)
             for effect, kind, term in repeated_measures_effects(design)]
    return _table(tests, subjects, covariates, center, design)


def univariate_followups(ratings: pd.DataFrame, participants: pd.DataFrame,
                         design: Design, covariates: Sequence[str],
                         center: bool) -> pd.DataFrame:
    """The same tests per rating: the univariate F for condition effects of two
    conditions (one contrast score; F(1, 49) in the paper), and for time effects the
    multivariate F over the periods' differences (F(2, 48) in the paper), not SPSS's
    sphericity-assumed univariate F(2, 98) (see ``statistic``)."""
    if not design.ratings:
        return pd.DataFrame(columns=["rating", *MANOVA_COLUMNS])
    frames = []
    for rating in design.rating_names:
        table = ratings_manova(ratings, participants, design, covariates, center, [rating])
        frames.append(table.assign(rating=rating))
    out = pd.concat(frames, ignore_index=True)
    return out[["rating", *[c for c in out.columns if c != "rating"]]]


def statistic_label(scores: int, s: int = 1) -> str:
    """What an F row is: one contrast score gives the univariate F; several, the
    multivariate exact F of Pillai's trace (not SPSS's sphericity-assumed univariate F);
    several of each with several hypothesis rows (three or more groups), Pillai's
    approximate F."""
    if s > 1:
        return f"approximate F (Pillai's trace, s = {s})"
    if scores == 1:
        return "exact F, one contrast score (= univariate F)"
    return f"multivariate exact F (Pillai) over {scores} contrast scores"


def _table(tests: list[tuple[str, pd.DataFrame, str]], subjects: pd.DataFrame,
           covariates: Sequence[str], center: bool, design: Design) -> pd.DataFrame:
    """One row per (effect, scores, tested term), in the configured covariate
    convention, with the same test at mean covariates (centred) beside it.

    Uncentred covariates (SPSS's GLM) evaluate within-subject effects at covariate
    values of 0 (age 0, BDI 0); centred ones at the sample means. Effects involving
    group do not depend on the centring.
    """
    designs = (design_matrix(subjects, covariates, center, design),
               design_matrix(subjects, covariates, True, design))
    rows = []
    for effect, scores, term in tests:
        terms = group_columns(design) if term == GROUP else [term]
        t, c = (multivariate_test(scores, x, terms, effect) for x in designs)
        rows.append({
            "effect": t.effect, "pillai": t.pillai, "F": t.f, "df1": t.df1, "df2": t.df2,
            "p": t.p, "partial_eta2": t.partial_eta2, "n": t.n,
            "covariates": "centred" if center else "uncentred (SPSS convention)",
            "statistic": statistic_label(t.scores, t.s),
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


def _pairs(first: pd.Series, second: pd.Series) -> int:
    """Subjects with both values (pingouin drops incomplete pairs)."""
    return int((first.notna() & second.notna()).sum())


def _within_groups(table: pd.DataFrame, group: pd.Series, design: Design,
                   measure: str) -> list[dict[str, object]]:
    """Paired t-tests of each period's change within each group."""
    rows = []
    for name in design.group_names:
        sel = table[group == name]
        for period in design.periods:
            a, b = period.first, period.second
            rows.append(_ttest_row("within group", name, measure, period.label(),
                                   pg.ttest(sel[b], sel[a], paired=True),
                                   _pairs(sel[a], sel[b])))
    return rows


def rating_ttests(ratings: pd.DataFrame, participants: pd.DataFrame,
                  design: Design) -> pd.DataFrame:
    """Paired t-tests (periods within group; consecutive conditions across all) and
    Student t-tests between each pair of groups per session. Independent tests use
    ``correction=False``: the paper's df (51 = 25 + 28 - 2) are Student's, not Welch's."""
    if not design.ratings:
        return pd.DataFrame(columns=TTEST_COLUMNS)
    wide = cell_means(ratings, design)
    group = _subjects(participants, wide.index, [])["group"]
    rows = []
    names = design.condition_names
    for rating in design.rating_names:
        for first, second in zip(names, names[1:]):
            a = wide[rating].xs(first, axis=1, level="video_type").mean(axis=1)
            b = wide[rating].xs(second, axis=1, level="video_type").mean(axis=1)
            rows.append(_ttest_row(f"{first} vs {second}", "all", rating,
                                   f"{first} - {second}", pg.ttest(a, b, paired=True),
                                   _pairs(a, b)))
    # Per condition only when there are several (with one, it is 'all videos').
    for condition in [None, *names] if len(names) > 1 else [None]:
        label = "all videos" if condition is None else condition
        for rating, table in session_means(wide, condition).items():
            measure = f"{rating} ({label})"
            rows += _within_groups(table, group, design, measure)
            for first, second in design.pairs():
                for session in design.sessions:
                    a = table.loc[group == first, session]
                    b = table.loc[group == second, session]
                    result = pg.ttest(a, b, paired=False, correction=False)
                    rows.append(_ttest_row("between groups", f"{first} - {second}", measure,
                                           session, result,
                                           int(a.notna().sum() + b.notna().sum())))
    return pd.DataFrame(rows)


def practice_correlations(ratings: pd.DataFrame, participants: pd.DataFrame,
                          design: Design,
                          column: str = "practice_minutes") -> pd.DataFrame:
    """Pearson correlations of rating changes (per period, mean over conditions) with
    practice duration, within each trained group."""
    if not design.ratings:
        return pd.DataFrame(columns=CORRELATION_COLUMNS)
    wide = cell_means(ratings, design)
    subjects = _subjects(participants, wide.index, [])
    rows = []
    if column not in subjects:
        return pd.DataFrame(columns=CORRELATION_COLUMNS)
    for group in (g.name for g in design.trained):
        keep = (subjects["group"] == group) & subjects[column].notna()
        scores = contrast_scores(wide, "time", design)[keep]
        for measure in scores.columns:
            result = pg.corr(scores[measure], subjects.loc[keep, column]).iloc[0]
            low, high = result["CI95"]
            rows.append({"group": group, "measure": measure, "with": column,
                         "n": int(result["n"]), "r": float(result["r"]),
                         "ci95_low": float(low), "ci95_high": float(high),
                         "p": float(result["p_val"])})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- scores task

def scores_manova(scores_table: pd.DataFrame, participants: pd.DataFrame, design: Design,
                  covariates: Sequence[str], center: bool) -> pd.DataFrame:
    """Time x group MANOVA on the per-session scores; subjects lacking any session dropped
    (an empty table when the design has no scores)."""
    if not design.scores:
        return pd.DataFrame(columns=MANOVA_COLUMNS)
    wide = _scores_wide(scores_table, design)
    subjects = _subjects(participants, wide.index, covariates)
    wide = wide.loc[subjects.index]
    time = pd.DataFrame({f"{s}_{p.name}": wide[(s, p.second)] - wide[(s, p.first)]
                         for s in design.scores for p in design.periods})
    mean = pd.DataFrame({s: wide[s].mean(axis=1) for s in design.scores})
    tests = [("time", time, INTERCEPT), ("time x group", time, GROUP),
             ("group", mean, GROUP)]
    return _table(tests, subjects, covariates, center, design)


def scores_ttests(scores_table: pd.DataFrame, participants: pd.DataFrame,
                  design: Design) -> pd.DataFrame:
    """Paired t-tests of each score over each period within each group."""
    if not design.scores:
        return pd.DataFrame(columns=TTEST_COLUMNS)
    wide = _scores_wide(scores_table, design)
    group = _subjects(participants, wide.index, [])["group"]
    rows = []
    for score in design.scores:
        for name in design.group_names:
            sel = wide[score][group == name]
            for p in design.periods:
                rows.append(_ttest_row("within group", name, score, p.label(),
                                       pg.ttest(sel[p.second], sel[p.first], paired=True),
                                       len(sel)))
    return pd.DataFrame(rows)


def _scores_wide(scores_table: pd.DataFrame, design: Design) -> pd.DataFrame:
    scores, sessions = list(design.scores), list(design.sessions)
    wide = scores_table.pivot_table(index="subject", columns="session", values=scores)
    wide = wide.reindex(columns=pd.MultiIndex.from_product([scores, sessions]))
    return wide.dropna()  # listwise: a subject needs every score at every session


def all_tables(ratings: pd.DataFrame, participants: pd.DataFrame, scores: pd.DataFrame,
               design: Design, covariates: Sequence[str], center: bool,
               practice_column: str = "practice_minutes") -> dict[str, pd.DataFrame]:
    """Every behavioural table, keyed as :func:`ecgap.paper.compare_with_paper` expects."""
    return {
        "manova": ratings_manova(ratings, participants, design, covariates, center),
        "univariate": univariate_followups(ratings, participants, design, covariates,
                                           center),
        "ttests": rating_ttests(ratings, participants, design),
        "correlations": practice_correlations(ratings, participants, design,
                                              column=practice_column),
        "memory_manova": scores_manova(scores, participants, design, covariates, center),
        "memory_ttests": scores_ttests(scores, participants, design),
    }
