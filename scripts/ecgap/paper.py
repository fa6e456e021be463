"""What Klimecki et al. (2014) report, and a side-by-side comparison with our results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ecgap.design import Design


@dataclass(frozen=True)
class Reported:
    """One reported statistic and how to find ours.

    ``source`` names our table, ``key`` the row selector in it; ``value`` is the paper's
    F or t (signed: negative for a decrease); ``significant`` the paper's decision.
    """

    analysis: str
    statistic: str
    source: str
    key: tuple[tuple[str, str], ...]
    df: str
    value: float | None
    p: str
    eta2: float | None
    significant: bool
    note: str = ""


def _k(**kwargs: str) -> tuple[tuple[str, str], ...]:
    return tuple(kwargs.items())


def _within(group: str, measure: str, contrast: str) -> tuple[tuple[str, str], ...]:
    return _k(test="within group", group=group, measure=measure, contrast=contrast)


_D1, _D2 = "delta1 (post1 - pre)", "delta2 (post2 - post1)"

REPORTED: tuple[Reported, ...] = (
    Reported("SoVT MANOVA", "video type", "manova", _k(effect="video"), "3,47", 8.18,
             "< .001", 0.34, True),
    Reported("SoVT MANOVA", "video type x group", "manova", _k(effect="video x group"),
             "3,47", 2.85, "< .05", 0.15, True),
    Reported("SoVT MANOVA", "time x group", "manova", _k(effect="time x group"), "6,44",
             6.01, "< .001", 0.45, True),
    Reported("SoVT MANOVA", "time x video type x group", "manova",
             _k(effect="time x video x group"), "6,44", 2.3, "= .05", 0.24, False,
             "reported as p = .05 (not below alpha)"),
    Reported("Memory MANOVA", "group", "memory_manova", _k(effect="group"), "2,46", 11.35,
             "< .001", 0.33, True),
    Reported("Memory MANOVA", "time x group", "memory_manova", _k(effect="time x group"),
             "4,44", 11.0, "< .001", 0.50, True),
    Reported("Univariate", "empathy: video type x group", "univariate",
             _k(rating="empathy", effect="video x group"), "1,49", 7.01, "< .05", None, True),
    *(Reported("Paired t, all subjects", f"{r}: HE vs LE", "ttests",
               _k(test="HE vs LE", group="all", measure=r), "52",
               15.82 if r != "positive_affect" else -15.82, "< .001", None, True,
               "paper: all |t52| >= 15.82")
      for r in ("empathy", "positive_affect", "negative_affect")),
    *(Reported("Student t, between groups", f"{r} at Pre", "ttests",
               _k(test="between groups", measure=f"{r} (all videos)", contrast="pre"),
               "51", None, "n.s.", None, False, "no group differences at Pre")
      for r in ("empathy", "positive_affect", "negative_affect")),
    Reported("Student t, between groups", "empathy at Post1", "ttests",
             _k(test="between groups", measure="empathy (all videos)", contrast="post1"),
             "51", None, "< .05", None, True, "affect group higher; t not reported"),
    Reported("Student t, between groups", "empathy at Post2", "ttests",
             _k(test="between groups", measure="empathy (all videos)", contrast="post2"),
             "51", None, "< .05", None, True, "affect group higher; t not reported"),
    Reported("Student t, between groups", "positive affect at Post2", "ttests",
             _k(test="between groups", measure="positive_affect (all videos)",
                contrast="post2"), "51", 4.37, "< .001", None, True),
    Reported("Paired t, affect group", "negative affect Pre->Post1", "ttests",
             _within("affect", "negative_affect (all videos)", _D1), "24", 3.5, "< .01",
             None, True),
    Reported("Paired t, affect group", "empathy Pre->Post1", "ttests",
             _within("affect", "empathy (all videos)", _D1), "24", 4.66, "< .001", None, True),
    Reported("Paired t, affect group", "negative affect Post1->Post2", "ttests",
             _within("affect", "negative_affect (all videos)", _D2), "24", -3.04, "< .01",
             None, True, "a decrease"),
    Reported("Paired t, affect group", "positive affect Post1->Post2", "ttests",
             _within("affect", "positive_affect (all videos)", _D2), "24", 4.25, "< .001",
             None, True),
    Reported("Paired t, memory group", "negative affect Post1->Post2", "ttests",
             _within("memory", "negative_affect (all videos)", _D2), "27", -3.17, "< .01",
             None, True, "a decrease"),
    *(Reported("Pearson r, affect group", f"{r} {d} x practice minutes", "correlations",
               _k(measure=f"{r}_{d}"), "23", None, ">= .1", None, False,
               "no correlation with practice duration")
      for r in ("empathy", "positive_affect", "negative_affect") for d in ("delta1", "delta2")),
    *(Reported("Memory task, paired t", f"memory group {s} {d}", "memory_ttests",
               _within("memory", s, c), "27", v, "< .05", None, True, "paper: t >= value")
      for s in ("recalled", "recalled_in_position")
      for d, c, v in (("Pre->Post1", _D1, 4.37), ("Post1->Post2", _D2, 2.35))),
    *(Reported("Memory task, paired t", f"affect group {s} {d}", "memory_ttests",
               _within("affect", s, c), "24", None, "n.s.", None, False,
               "the affect group did not change")
      for s in ("recalled", "recalled_in_position")
      for d, c in (("Pre->Post1", _D1), ("Post1->Post2", _D2))),
)


#: The paper's design, which the comparison needs: its groups (the second the control),
#: change periods (by the labels of its t-test tables), conditions, ratings and
#: memory-task scores.
PAPER_DESIGN = {"groups": ["affect", "memory"], "conditions": ["HE", "LE"],
                "ratings": {"empathy", "positive_affect", "negative_affect"},
                "scores": ["recalled", "recalled_in_position"]}
COMPARISON_COLUMNS = ["analysis", "statistic", "paper_df", "paper_value", "paper_p",
                      "paper_eta2", "paper_significant", "our_df", "our_value", "our_p",
                      "our_eta2", "our_significant", "agree", "note"]


def applies_to(design: "Design") -> bool:
    """Whether a design is the paper's (the comparison is meaningless for another)."""
    return (design.group_names == PAPER_DESIGN["groups"]
            and design.control.name == PAPER_DESIGN["groups"][1]
            and [p.label() for p in design.periods] == [_D1, _D2]
            and design.condition_names == PAPER_DESIGN["conditions"]
            and set(design.rating_names) == PAPER_DESIGN["ratings"]
            and list(design.scores) == PAPER_DESIGN["scores"])


def compare_with_paper(tables: dict[str, pd.DataFrame], alpha: float = 0.05) -> pd.DataFrame:
    """Every reported statistic beside ours, and whether the decisions agree.

    Agreement means the same significance decision at ``alpha`` and, where the paper
    reports a direction, the same sign.
    """
    rows = []
    for item in REPORTED:
        table = tables[item.source]
        sel = np.ones(len(table), dtype=bool)
        for column, value in item.key:
            sel &= (table[column] == value).to_numpy()
        if sel.sum() != 1:
            raise KeyError(f"{item.source}: {sel.sum()} rows match {dict(item.key)}")
        ours = table[sel].iloc[0]
        value = float(ours["F"] if "F" in ours else ours.get("T", ours.get("r")))
        if "df1" in ours:
            df = f"{int(ours['df1'])},{int(ours['df2'])}"
        elif "dof" in ours:
            df = f"{ours['dof']:g}"
        else:
            df = f"{int(ours['n']) - 2}"
        significant = bool(ours["p"] < alpha)
        same_sign = item.value is None or not item.significant or \
            np.sign(item.value) == np.sign(value) or "F" in ours
        rows.append({
            "analysis": item.analysis, "statistic": item.statistic,
            "paper_df": item.df, "paper_value": item.value, "paper_p": item.p,
            "paper_eta2": item.eta2, "paper_significant": item.significant,
            "our_df": df, "our_value": value, "our_p": float(ours["p"]),
            "our_eta2": float(ours["partial_eta2"]) if "partial_eta2" in ours else np.nan,
            "our_significant": significant,
            "agree": significant == item.significant and bool(same_sign),
            "note": item.note,
        })
    return pd.DataFrame(rows)
