"""Brain-behaviour (parametric) group analyses within one group of the design.

Each analysis regresses a change map (e.g. delta1 of mean(HE, LE)) on intercept + a
behavioural score (a rating change or a participants column such as practice duration) +
centred covariates, and tests the slope in both directions with the same permutation
inference as the group level.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from ecgap.ratings import cell_means, session_means
from ecgap.design import SLOPE_CONTRASTS, Design, Score  # noqa: F401 (SLOPE_CONTRASTS re-exported)
from ecgap.io import InputError


def behaviour_score(score: Score, ratings: pd.DataFrame, participants: pd.DataFrame,
                    design: Design) -> pd.Series:
    """One value per subject: a rating change or a participants.tsv column.

    A rating score (one with a period) is the change of the subject's mean rating over
    the period, for one condition or all; otherwise ``score.measure`` names a
    participants column such as practice_minutes. ``design`` needs its sessions,
    periods, conditions and ratings.
    """
    measure = score.measure
    if score.period is not None:
        condition = None if score.condition == "all" else score.condition
        table = session_means(cell_means(ratings, design), condition)[measure]
        first, second = design.period_sessions(score.period)
        values = table[second] - table[first]
    elif measure in participants.columns:
        values = pd.to_numeric(participants.set_index("subject")[measure], errors="coerce")
    else:
        raise InputError("participants.tsv", f"no column {measure!r} for the "
                                             "brain-behaviour score")
    return values.rename(measure)


def regression_design(subjects: pd.DataFrame, score: pd.Series,
                      covariates: Sequence[str]) -> pd.DataFrame:
    """intercept + centred score + centred covariates, one row per subject.

    Centring leaves the slope's t unchanged; it makes the intercept the mean change.
    """
    values = score.reindex(subjects["subject"].to_numpy())
    if values.isna().any():
        missing = values.index[values.isna()].tolist()
        raise InputError("brain-behaviour score", f"{score.name} is missing for "
                                                  f"subjects {missing}")
    design = pd.DataFrame(index=subjects["subject"].to_numpy())
    design["intercept"] = 1.0
    design["score"] = values.to_numpy(float) - values.mean()
    for name in covariates:
        column = subjects[name].to_numpy(dtype=float)
        design[name] = column - column.mean()
    if len(design) <= design.shape[1] + 1:
        raise InputError("brain-behaviour design", f"{len(design)} subjects for "
                                                   f"{design.shape[1]} columns leave no "
                                                   "error degrees of freedom")
    return design
