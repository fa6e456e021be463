"""Ingest on real data from ../shared/data (read in place, never copied)."""

from pathlib import Path

import pandas as pd
import pytest

from ecgap.bids import Layout, check_complete, index_runs
from ecgap.ingest import read_events, read_participants
from ecgap.io import InputError, read_tsv

from conftest import SHARED

pytestmark = pytest.mark.realdata
CONFOUNDS = SHARED / "fmriprep_confounds"


@pytest.fixture()
def layout():
    if not CONFOUNDS.is_dir():
        pytest.skip(f"{CONFOUNDS} not present")
    return Layout(CONFOUNDS / "bids", CONFOUNDS / "derivatives" / "fmriprep",
                  "sharedreward", "MNI152NLin2009cAsym")


def test_index_real_fmriprep_layout(layout):
    runs = index_runs(layout)
    assert len(runs) == 4
    assert set(runs.subject) == {"10369", "10418"}
    assert runs.session.isna().all() and sorted(runs.run.unique()) == ["1", "2"]
    assert runs.confounds.notna().all() and runs.confounds_json.notna().all()
    assert runs.bold.isna().all()  # this dataset ships no images
    check_complete(runs, layout, ["10369", "10418"], None, require=("events", "confounds"))
    with pytest.raises(InputError, match="missing bold file for sub-10369"):
        check_complete(runs, layout, ["10369"], None)
    with pytest.raises(InputError, match="sub-10317 has no task 'sharedreward' data"):
        check_complete(runs, layout, ["10317"], None, require=("events",))


def test_real_confounds_and_events(layout):
    runs = index_runs(layout)
    for row in runs.itertuples():
        confounds = read_tsv(row.confounds)
        assert len(confounds) == 255
        assert pd.isna(confounds.loc[0, "framewise_displacement"])  # first-row n/a
        assert 0.10 <= confounds["framewise_displacement"].mean() <= 0.15
        events = read_events(Path(row.events))
        assert {"onset", "duration", "trial_type"} <= set(events.columns)
        assert (events.duration >= 0).all()


def test_real_participants_table(layout):
    table = read_participants(layout.bids_dir / "participants.tsv",
                              {"affect": "control", "memory": "patient"}, ["age"])
    assert len(table) == 185 and set(table.role) == {"affect"}
    assert {"10369", "10418"} <= set(table.subject)
    assert table.subject.str.fullmatch(r"\d+").all()


def test_ds005_events_with_na_cells():
    root = SHARED / "ds005_events"
    if not root.is_dir():
        pytest.skip(f"{root} not present")
    files = sorted(root.glob("sub-*/func/*_events.tsv"))
    assert len(files) == 48
    for path in files:
        events = read_events(path)
        assert len(events) > 50 and events.onset.is_monotonic_increasing
