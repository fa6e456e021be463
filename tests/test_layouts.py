"""The BIDS + fMRIPrep layouts people have: each works or fails naming the file and the
config key that fixes it. Fast: indexing and library calls, no Snakemake."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from ecgap.bids import (Layout, LayoutError, fmriprep_root, index_runs,
                        outputs_inside_inputs, run_number, study_runs)
from ecgap.confounds import ConfoundSpec, check_confound_columns, select_confounds
from ecgap.first_level import stacked_designs
from ecgap.ingest import read_events, slice_time_reference
from ecgap.io import InputError, read_tsv, save_nifti
from ecgap.qc import session_exclusions
from ecgap.second_level import complete_covariates, group_mask, included_subjects

from conftest import SHARED

SPACE = "MNI152NLin2009cAsym"
LAYOUTS = SHARED / "bids_layouts"
REAL_CONFOUNDS = SHARED / "fmriprep_confounds" / "derivatives" / "fmriprep"


def _layout(tmp_path: Path, space: str = SPACE) -> Layout:
    return Layout(tmp_path / "bids", tmp_path / "fmriprep", "sovt", space)


def _rename_all(folder: Path, old: str, new: str) -> None:
    for path in folder.glob(f"*{old}*"):
        path.rename(path.with_name(path.name.replace(old, new)))


# ------------------------------------------------------------------ real file trees

@pytest.mark.realdata
def test_ds001_raw_run_01_matches_fmriprep_run_1_at_res_2():
    """OpenfMRI ds000001 with its fMRIPrep 20.2 derivatives: run-01 <-> run-1, the
    MNI152NLin2009cAsym res-2 series chosen over the AROMA and surface outputs."""
    if not LAYOUTS.is_dir():
        pytest.skip(f"{LAYOUTS} not present")
    layout = Layout(LAYOUTS / "ds001", LAYOUTS / "ds000001-fmriprep",
                    "balloonanalogrisktask", SPACE)
    subjects = ["10", "11", "13", "16"]
    runs = study_runs(layout, subjects, [None])
    assert len(runs) == 12 and {r["run"] for r in runs.values()} == {"1", "2", "3"}
    first = runs["sub-10_task-balloonanalogrisktask_run-1"]
    assert first["events"].name == "sub-10_task-balloonanalogrisktask_run-01_events.tsv"
    assert first["bold"].name == ("sub-10_task-balloonanalogrisktask_run-1_space-"
                                  f"{SPACE}_res-2_desc-preproc_bold.nii.gz")
    assert first["bold_json"].is_file() and first["confounds_json"].is_file()
    assert "res-2_desc-brain_mask" in first["mask"].name
    # A subject fMRIPrep was not run on: every missing file, all at once.
    with pytest.raises(LayoutError) as err:
        study_runs(layout, ["01", "10"], [None])
    assert len(err.value.problems) == 3 * 3  # bold, mask, confounds of 3 runs
    assert "missing bold file for sub-01 run-1" in str(err.value)


@pytest.mark.realdata
def test_ds001_other_space_lists_the_spaces_found():
    if not LAYOUTS.is_dir():
        pytest.skip(f"{LAYOUTS} not present")
    layout = Layout(LAYOUTS / "ds001", LAYOUTS / "ds000001-fmriprep",
                    "balloonanalogrisktask", "MNI305")
    problems: list = []
    index_runs(layout, problems=problems)
    assert problems and "no preprocessed BOLD in space 'MNI305'" in problems[0][1]
    assert "MNI152NLin2009cAsym, MNI152NLin6Asym" in problems[0][1]
    assert "(data.space)" in problems[0][1]


# ------------------------------------------------------------------ renamed copies

def test_two_resolutions_need_data_resolution(run_files, tmp_path):
    der = run_files["bold"].parent
    for path in list(der.glob(f"*_space-{SPACE}_*")):
        shutil.copy(path, path.with_name(path.name.replace(f"{SPACE}_", f"{SPACE}_res-1_")))
        path.rename(path.with_name(path.name.replace(f"{SPACE}_", f"{SPACE}_res-2_")))
    layout = _layout(tmp_path)
    with pytest.raises(LayoutError, match="several resolutions .*res-1, res-2.*data.resolution"):
        study_runs(layout, ["01"], ["pre"])
    runs = study_runs(layout, ["01"], ["pre"], resolution="2")
    assert "_res-2_desc-preproc_bold" in runs["sub-01_ses-pre_task-sovt"]["bold"].name
    assert "_res-2_desc-brain_mask" in runs["sub-01_ses-pre_task-sovt"]["mask"].name


def test_fmriprep_before_20_2_and_uncompressed_images(run_files, tmp_path):
    der = run_files["bold"].parent
    _rename_all(der, "_desc-confounds_timeseries.", "_desc-confounds_regressors.")
    for key in ("bold", "mask"):
        nib.save(nib.load(run_files[key]), str(run_files[key])[:-3])
        run_files[key].unlink()
    run = study_runs(_layout(tmp_path), ["01"], ["pre"])["sub-01_ses-pre_task-sovt"]
    assert run["confounds"].name.endswith("_desc-confounds_regressors.tsv")
    assert run["confounds_json"].name.endswith("_desc-confounds_regressors.json")
    assert run["bold"].suffix == ".nii" and run["bold_json"].is_file()
    confounds, _ = select_confounds(run["confounds"], run["confounds_json"], ConfoundSpec())
    assert "trans_x" in confounds and "cosine00" in confounds


def test_symlinked_subject_and_session_folders(run_files, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(tmp_path / "bids" / "sub-01", elsewhere / "sub-01")
    (tmp_path / "bids" / "sub-01").symlink_to(elsewhere / "sub-01")
    session = tmp_path / "fmriprep" / "sub-01" / "ses-pre"
    shutil.move(session, elsewhere / "ses-pre")
    session.symlink_to(elsewhere / "ses-pre")
    run = study_runs(_layout(tmp_path), ["01"], ["pre"])["sub-01_ses-pre_task-sovt"]
    assert run["events"].is_file() and run["bold"].is_file()


def test_derivatives_inside_the_bids_folder(tmp_path):
    (tmp_path / "bids" / "derivatives" / "fmriprep").mkdir(parents=True)
    assert fmriprep_root(tmp_path / "bids", "") == tmp_path / "bids/derivatives/fmriprep"
    assert fmriprep_root(tmp_path / "bids", "/x") == Path("/x")
    with pytest.raises(InputError, match="data.fmriprep_dir.*not set"):
        fmriprep_root(tmp_path / "other", None)


def test_every_layout_problem_is_reported_at_once(run_files, tmp_path):
    layout = _layout(tmp_path)
    run_files["mask"].unlink()
    run_files["confounds"].unlink()
    with pytest.raises(LayoutError) as err:
        study_runs(layout, ["01", "02"], ["pre", "post1"])
    text = str(err.value)
    assert len(err.value.problems) == 4
    assert text.startswith("4 problems in the input layout")
    for words in ("missing mask file for sub-01 ses-pre", "missing confounds file",
                  "no subject has session 'post1': check design.sessions",
                  "sub-02 has no 'sovt' events in any session"):
        assert words in text


def test_a_missing_session_is_not_an_error_unless_fmriprep_has_it(run_files, tmp_path):
    layout = _layout(tmp_path)
    for name, key in (("02", "events"), ("02", "bold")):
        path = run_files[key]
        target = Path(str(path).replace("sub-01", f"sub-{name}"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    # sub-01 has Pre only, sub-02 Pre only: nobody has post1 -> a config problem.
    with pytest.raises(LayoutError, match="no subject has session 'post1'"):
        study_runs(layout, ["01", "02"], ["pre", "post1"])
    # Give sub-02 a complete post1: sub-01 simply lacks it and is kept.
    for key in ("events", "bold", "bold_json", "mask", "confounds", "confounds_json"):
        source = run_files[key]
        target = Path(str(source).replace("sub-01", "sub-02").replace("ses-pre", "ses-post1"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    for key in ("mask", "bold_json", "confounds", "confounds_json"):
        target = Path(str(run_files[key]).replace("sub-01", "sub-02"))
        shutil.copy(run_files[key], target)
    runs = study_runs(layout, ["01", "02"], ["pre", "post1"])
    assert sorted(runs) == ["sub-01_ses-pre_task-sovt", "sub-02_ses-post1_task-sovt",
                            "sub-02_ses-pre_task-sovt"]
    # BOLD without events is an error: the events file is what is missing.
    bold = Path(str(run_files["bold"]).replace("ses-pre", "ses-post1"))
    bold.parent.mkdir(parents=True)
    shutil.copy(run_files["bold"], bold)
    with pytest.raises(LayoutError, match="sub-01 has no session 'post1': events file"):
        study_runs(layout, ["01", "02"], ["pre", "post1"])


def test_run_numbers_match_across_zero_padding():
    assert run_number("01") == run_number("1") == "1"
    assert run_number(None) is None and run_number("a") == "a"


# ------------------------------------------------------------------ data safety

def test_outputs_inside_the_inputs_are_refused(tmp_path):
    bids, work = tmp_path / "bids", tmp_path / "work"
    bids.mkdir()
    work.mkdir()
    patterns = [("ingest", "results/ingest/ratings.tsv"), ("sim", f"{bids}/sub-{{s}}.tsv")]
    problems = outputs_inside_inputs(patterns, [bids], work)
    assert len(problems) == 1 and "rule sim" in problems[0]
    # Working directory inside the data: every relative output would land there.
    assert "inside the input folder" in outputs_inside_inputs(patterns[:1], [bids], bids)[0]
    # Data inside results/, and a symlink into the data.
    assert "inside the workflow's output folder" in outputs_inside_inputs(
        [], [work / "results/simulated/bids"], work)[0]
    (work / "link").symlink_to(bids)
    assert outputs_inside_inputs([("x", "link/{y}.tsv")], [bids], work)
    assert outputs_inside_inputs(patterns[:1], [bids], work) == []


# ------------------------------------------------------------------ confounds and events

@pytest.mark.realdata
def test_confounds_without_std_dvars(tmp_path):
    if not REAL_CONFOUNDS.is_dir():
        pytest.skip(f"{REAL_CONFOUNDS} not present")
    source = sorted(REAL_CONFOUNDS.glob("sub-*/func/*_desc-confounds_timeseries.tsv"))[0]
    table = tmp_path / source.name
    read_tsv(source).drop(columns="std_dvars").to_csv(table, sep="\t", index=False,
                                                      na_rep="n/a")
    with pytest.raises(InputError) as err:
        select_confounds(table, None, ConfoundSpec())
    assert err.value.where == str(table)
    assert "lacks column 'std_dvars'" in str(err.value)
    assert "preprocess.std_dvars_threshold" in str(err.value)
    confounds, scrubbed = select_confounds(table, None, ConfoundSpec(std_dvars_threshold=None))
    assert len(confounds) == 255 and "std_dvars" not in confounds


@pytest.mark.parametrize("spec, column, key", [
    (ConfoundSpec(), "rot_z_derivative1_power2", "preprocess.confounds.motion"),
    (ConfoundSpec(strategy=("motion", "compcor")), "a_comp_cor_", "preprocess.confounds.compcor"),
    (ConfoundSpec(strategy=("global_signal",)), "global_signal", "preprocess.confounds.global"),
    (ConfoundSpec(), "cosine", "drop high_pass"),
    (ConfoundSpec(), "framewise_displacement", "preprocess.fd_threshold"),
])
def test_missing_confound_column_names_file_column_and_key(spec, column, key):
    columns = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "csf",
               "white_matter", "cosine00", "framewise_displacement", "std_dvars"]
    columns = [f"{c}{e}" for c in columns
               for e in ("", "_power2", "_derivative1", "_derivative1_power2")]
    columns = [c for c in columns if not c.startswith(column)]
    with pytest.raises(InputError) as err:
        check_confound_columns(columns, spec, "conf.tsv")
    assert err.value.where == "conf.tsv" and repr(column) in str(err.value) and key in str(err.value)


def test_na_trial_types_are_ignored_with_a_log_line(run_files, caplog):
    events = read_tsv(run_files["events"])
    events.loc[2, "trial_type"] = np.nan
    events.to_csv(run_files["events"], sep="\t", index=False, na_rep="n/a")
    with caplog.at_level(logging.INFO):
        out = read_events(run_files["events"])
    assert len(out) == len(events) - 1 and "trial_type n/a ignored (lines 4)" in caplog.text


@pytest.mark.parametrize("column", ["onset", "duration"])
def test_na_onset_or_duration_names_the_row(run_files, column):
    events = read_tsv(run_files["events"])
    events.loc[3, column] = np.nan
    events.to_csv(run_files["events"], sep="\t", index=False, na_rep="n/a")
    with pytest.raises(InputError, match=f"{column} is missing or not a number on line 5"):
        read_events(run_files["events"])


def test_slice_time_reference_follows_first_level_from_bids():
    corrected = {"SliceTimingCorrected": True, "StartTime": 0.975}
    assert slice_time_reference(corrected, 2.0) == pytest.approx(0.4875)
    assert slice_time_reference({"SliceTimingCorrected": False, "StartTime": 1.0}, 2.0) == 0
    assert slice_time_reference({}, 2.0) == 0


# ------------------------------------------------------------------ runs, QC and masks

def test_a_session_is_lost_only_when_every_run_is_excluded():
    runs = pd.DataFrame({"subject": ["01", "01", "02"], "session": ["pre"] * 3,
                         "run": ["1", "2", None], "excluded": [True, False, True],
                         "reason": ["fd", "", "fd"]})
    table = session_exclusions(runs)
    assert table["session_excluded"].tolist() == [False, True]
    participants = pd.DataFrame({"subject": ["01", "02"], "role": ["affect", "memory"]})
    kept, dropped = included_subjects(participants, table, ["pre", "post1"])
    assert list(kept.subject) == ["01"] and dropped == ["02"]


def test_na_covariate_drops_the_subject_from_adjusted_models():
    participants = pd.DataFrame({"subject": ["01", "02", "03"], "age": [20, np.nan, 30],
                                 "bdi": [1, 2, np.nan]})
    kept, dropped = complete_covariates(participants, ["age", "bdi"])
    assert list(kept.subject) == ["01"] and dropped == ["02", "03"]
    assert complete_covariates(participants, [])[1] == []


def test_group_mask_keeps_voxels_in_a_fraction_of_subjects(tmp_path):
    affine = np.eye(4)
    paths = {}
    for i in range(4):
        data = np.zeros((4, 4, 4), np.uint8)
        data[1:3, 1:3, 1:3] = 1
        data[0, 0, 0] = i < 3  # present in 3 of 4 subjects, like an OFC voxel
        paths[f"{i}"] = [str(tmp_path / f"m{i}.nii.gz")]
        save_nifti(nib.Nifti1Image(data, affine), paths[f"{i}"][0])
    strict = group_mask(paths, 1.0).get_fdata()
    loose = group_mask(paths, 0.75).get_fdata()
    assert strict.sum() == 8 and loose.sum() == 9 and loose[0, 0, 0] == 1


def test_several_runs_stack_their_designs():
    designs = [pd.DataFrame({"HE": [1.0, 0.0], "scrub000": [0.0, 1.0]}),
               pd.DataFrame({"HE": [0.5, 0.5]})]
    stacked = stacked_designs(designs, ["r1", "r2"])
    assert list(stacked["run"]) == ["r1", "r1", "r2", "r2"]
    assert stacked["scrub000"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert stacked_designs(designs[:1], ["r1"]) is designs[0]


def test_continuous_maps_are_stored_as_float32(tmp_path):
    mask = nib.Nifti1Image(np.ones((3, 3, 3), np.uint8), np.eye(4))
    values = np.linspace(-3, 3, 27, dtype=np.float64).reshape(3, 3, 3)
    on_mask_header = nib.Nifti1Image(values, mask.affine, mask.header)  # the old trap
    save_nifti(on_mask_header, tmp_path / "z.nii.gz")
    save_nifti(mask, tmp_path / "mask.nii.gz")
    z = nib.load(tmp_path / "z.nii.gz")
    assert z.get_data_dtype() == np.float32 and len(np.unique(z.get_fdata())) == 27
    np.testing.assert_allclose(z.get_fdata(), values, rtol=1e-6)
    assert nib.load(tmp_path / "mask.nii.gz").get_data_dtype() == np.uint8
