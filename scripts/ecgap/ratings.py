"""The ratings table reshaped by the design: the cell means that the behavioural tests,
the brain-behaviour scores and the figures start from.

Apart from ``ecgap.behaviour`` so that the jobs that only reshape ratings (figures,
brain-behaviour) do not load pingouin and statsmodels.
"""

from __future__ import annotations

import pandas as pd

from ecgap.design import Design
from ecgap.io import InputError


def cell_means(ratings: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Subject x (rating, session, condition) table of mean ratings."""
    names = design.rating_names
    means = ratings.groupby(["subject", "session", "video_type"])[names].mean()
    wide = means.unstack(["session", "video_type"])
    wide.columns = wide.columns.set_names(["rating", "session", "video_type"])
    missing = [(r, s, c) for r in names for s in design.sessions
               for c in design.condition_names if (r, s, c) not in wide.columns]
    if missing:
        raise InputError("ratings", f"no ratings for cells {missing[:3]}")
    return wide  # a subject lacking a session has n/a cells; the MANOVAs drop it listwise


def session_means(wide: pd.DataFrame, condition: str | None) -> dict[str, pd.DataFrame]:
    """Per rating: subject x session means, for one condition or averaged over all."""
    out = {}
    for rating in wide.columns.get_level_values("rating").unique():
        cell = wide[rating]
        if condition is None:
            out[rating] = cell.T.groupby(level="session").mean().T
        else:
            out[rating] = cell.xs(condition, axis=1, level="video_type")
    return out
