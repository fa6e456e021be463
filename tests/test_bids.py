"""BIDS entity parsing and indexing."""

from pathlib import Path

from ecgap.bids import Layout, canonical_run_paths, index_runs, parse_entities


def test_parse_entities():
    ent = parse_entities("sub-01_ses-pre_task-sovt_space-MNI152NLin2009cAsym_res-2_"
                         "desc-preproc_bold.nii.gz")
    assert ent == {"sub": "01", "ses": "pre", "task": "sovt", "space": "MNI152NLin2009cAsym",
                   "res": "2", "desc": "preproc", "suffix": "bold", "extension": ".nii.gz"}
    assert parse_entities("README") == {}
    assert parse_entities("sub-01_bad_bold.nii.gz") == {}


def test_index_tolerates_extra_entities(run_files, tmp_path):
    layout = Layout(tmp_path / "bids", tmp_path / "fmriprep", "sovt", "MNI152NLin2009cAsym")
    bold = run_files["bold"]
    renamed = bold.with_name(bold.name.replace("_desc-", "_res-2_desc-"))
    bold.rename(renamed)
    runs = index_runs(layout)
    assert len(runs) == 1
    assert Path(runs.loc[0, "bold"]) == renamed
    assert Path(runs.loc[0, "mask"]) == run_files["mask"]


def test_canonical_paths_without_session(tmp_path):
    layout = Layout(tmp_path / "b", tmp_path / "f", "x", "MNI")
    paths = canonical_run_paths(layout, "01", None)
    assert paths["events"] == tmp_path / "b/sub-01/func/sub-01_task-x_events.tsv"
