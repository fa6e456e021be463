"""Run-level QC decisions turned into the sessions the group level must drop."""

from __future__ import annotations

import pandas as pd


def session_exclusions(runs: pd.DataFrame) -> pd.DataFrame:
    """The excluded runs, with whether each one's whole session is lost.

    Parameters
    ----------
    runs : pandas.DataFrame
        Per run: subject, session, run (None without run entities), excluded, reason.

    Returns
    -------
    pandas.DataFrame
        One row per excluded run: subject, session, run, reason and
        ``session_excluded``, true when every run of that session is excluded. A session
        that keeps a run is modelled from the runs it keeps and stays in the analyses.
    """
    lost = runs.groupby(["subject", "session"])["excluded"].transform("all")
    out = runs.loc[runs["excluded"], ["subject", "session", "run", "reason"]].copy()
    out["session_excluded"] = lost[runs["excluded"]].to_numpy()
    return out.reset_index(drop=True)
