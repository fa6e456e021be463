"""One table of bad inputs: each gives an InputError that names the file (or config key)
and says what is wrong, which the rule scripts and the parse-time checks turn into a
single ``ecgap input error: ...`` line (tested at the end)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from ecgap.bids import Layout, check_exclusions, fmriprep_root, outputs_inside_inputs, study_runs
from ecgap.config import check_analyses, validate_config
from ecgap.confounds import ConfoundSpec, select_confounds
from ecgap.first_level import session_runs
from ecgap.ingest import check_run, memory_table, read_events, read_participants
from ecgap.io import InputError, read_tsv

from conftest import REPO

SPACE = "MNI152NLin2009cAsym"
SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"
GROUPS = {"affect": "affect", "memory": "memory"}
CASES: dict[str, Callable] = {}


def case(where: str, message: str):
    """Register a case: ``where`` is a run_files key, a path relative to tmp_path, or a
    config key; ``message`` a regular expression the error must match."""
    def register(build):
        CASES[build.__name__] = (build, where, message)
        return build
    return register


def _events(files, change):
    events = read_tsv(files["events"])
    change(events)
    events.to_csv(files["events"], sep="\t", index=False, na_rep="n/a")
    return lambda: read_events(files["events"], ["HE", "LE"])


def _run(files, expected_tr=None):
    return lambda: check_run(files, expected_tr, 0.01, True, ["HE", "LE"])


def _save(path, data, affine, zooms=None):
    img = nib.Nifti1Image(data, affine)
    if zooms:
        img.header.set_zooms(zooms)
    nib.save(img, path)


def _participants(tmp, rows, covariates=("age", "bdi")):
    path = tmp / "participants.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return lambda: read_participants(path, GROUPS, covariates)


def _two(value_a, value_b, **extra):
    return {"participant_id": ["sub-01", "sub-02"], "group": ["affect", "memory"],
            "age": [20, 30], "bdi": [1, 2], **{k: [value_a, value_b] for k in extra}}


def _config(patch):
    config = {"data": {}, "design": {}, "first_level": {}, "second_level": {},
              "brain_behaviour": {}}
    for key, value in patch.items():
        section, name = key.split(".", 1)
        config[section][name] = value
    return config


# ------------------------------------------------------------------ images and sidecars

@case("bold_json", "RepetitionTime 2.0 s disagrees with the config's data.tr = 2.5")
def tr_config(files, tmp):
    return _run(files, 2.5)


@case("bold", r"header TR \(pixdim\[4\]\) 1.0 s disagrees .* data.check_header_tr")
def tr_header(files, tmp):
    img = nib.load(files["bold"])
    _save(files["bold"], np.asarray(img.dataobj), img.affine, img.header.get_zooms()[:3] + (1.0,))
    return _run(files)


@case("bold_json", "RepetitionTime is missing or not positive")
def tr_missing(files, tmp):
    files["bold_json"].write_text(json.dumps({"TaskName": "sovt"}))
    return _run(files)


@case("bold_json", "malformed JSON")
def sidecar_malformed(files, tmp):
    files["bold_json"].write_text("{RepetitionTime: 2")
    return _run(files)


@case("bold", "expected a 4D BOLD series")
def bold_3d(files, tmp):
    img = nib.load(files["bold"])
    _save(files["bold"], np.asarray(img.dataobj)[..., 0], img.affine)
    return _run(files)


@case("bold", "not a readable NIfTI image")
def bold_garbage(files, tmp):
    files["bold"].write_bytes(b"not an image")
    return _run(files)


@case("mask", "brain mask grid .* does not match the BOLD grid")
def mask_shape(files, tmp):
    mask = nib.load(files["mask"])
    _save(files["mask"], np.asarray(mask.dataobj)[:-1], mask.affine)
    return _run(files)


@case("mask", "does not match the BOLD grid")
def mask_affine(files, tmp):
    mask = nib.load(files["mask"])
    _save(files["mask"], np.asarray(mask.dataobj), mask.affine + np.diag([0, 0, 0.5, 0]))
    return _run(files)


@case("mask", "brain mask is empty")
def mask_empty(files, tmp):
    mask = nib.load(files["mask"])
    _save(files["mask"], np.zeros(mask.shape, np.uint8), mask.affine)
    return _run(files)


@case("bold", "voxel\\(s\\) inside the brain mask contain NaN")
def bold_nan(files, tmp):
    img = nib.load(files["bold"])
    data = img.get_fdata(dtype=np.float32)
    data[np.asarray(nib.load(files["mask"]).dataobj) > 0] = np.nan
    _save(files["bold"], data, img.affine, img.header.get_zooms())
    return _run(files)


@case("confounds", "rows but the BOLD series has .* volumes")
def confounds_rows(files, tmp):
    read_tsv(files["confounds"]).iloc[:-3].to_csv(files["confounds"], sep="\t", index=False,
                                                  na_rep="n/a")
    return _run(files)


@case("confounds", "not a readable tab-separated table")
def confounds_garbage(files, tmp):
    files["confounds"].write_bytes(b"\xff\xfe\x00\x01" * 100)
    return _run(files)


# ------------------------------------------------------------------ events

@case("events", "lacks required column\\(s\\) duration")
def events_no_duration(files, tmp):
    return _events(files, lambda e: e.drop(columns="duration", inplace=True))


@case("events", "negative duration .* on line 4")
def events_negative_duration(files, tmp):
    return _events(files, lambda e: e.__setitem__("duration", e["duration"].where(
        e.index != 2, -1.0)))


@case("events", "onset is missing or not a number on line 3")
def events_na_onset(files, tmp):
    return _events(files, lambda e: e.__setitem__("onset", e["onset"].where(e.index != 1)))


@case("events", "duration is missing or not a number on line 2")
def events_na_duration(files, tmp):
    return _events(files, lambda e: e.__setitem__("duration", e["duration"].where(
        e.index != 0)))


@case("events", "onset is missing or not a number on line 2")
def events_text_onset(files, tmp):
    def change(events):
        events["onset"] = events["onset"].astype(object)
        events.loc[0, "onset"] = "soon"
    return _events(files, change)


@case("events", "negative onset")
def events_negative_onset(files, tmp):
    return _events(files, lambda e: e.__setitem__("onset", e["onset"] - 100.0))


@case("events", "is after the end of the run")
def events_late(files, tmp):
    events = read_tsv(files["events"])
    events.loc[len(events)] = {**events.iloc[-1].to_dict(), "onset": 99999.0}
    events.to_csv(files["events"], sep="\t", index=False, na_rep="n/a")
    return _run(files)


@case("events", "no events of trial_type 'LE'")
def events_no_le(files, tmp):
    return _events(files, lambda e: e.__setitem__("trial_type", e["trial_type"].replace(
        "LE", "low")))


# ------------------------------------------------------------------ participants

@case("participants.tsv", "duplicate participant_id: sub-01")
def participants_duplicate(files, tmp):
    return _participants(tmp, {**_two(0, 0), "participant_id": ["sub-01", "sub-01"]})


@case("participants.tsv", "group label\\(s\\) 'control' not in the config's design.groups labels")
def participants_unknown_group(files, tmp):
    return _participants(tmp, {**_two(0, 0), "group": ["affect", "control"]})


@case("participants.tsv", "not a plain BIDS label")
def participants_bad_label(files, tmp):
    return _participants(tmp, {**_two(0, 0), "participant_id": ["sub-01", "sub-0_2"]})


@case("participants.tsv", "required column 'group' is missing")
def participants_no_group(files, tmp):
    rows = _two(0, 0)
    rows.pop("group")
    return _participants(tmp, rows)


@case("participants.tsv", "column 'bdi' is not numeric for sub-02")
def participants_text_covariate(files, tmp):
    return _participants(tmp, {**_two(0, 0), "bdi": [1, "high"]})


@case("participants.tsv", "file not found")
def participants_missing(files, tmp):
    return lambda: read_participants(tmp / "participants.tsv", GROUPS)


@case("config key data.exclude_subjects", "sub-99 not in participants.tsv")
def exclude_unknown(files, tmp):
    return lambda: check_exclusions(["99"], ["01", "02"])


# ------------------------------------------------------------------ layout

def _layout(tmp):
    return Layout(tmp / "bids", tmp / "fmriprep", "sovt", SPACE)


@case("bids/sub-01/ses-post1/func/sub-01_ses-post1_task-sovt_events.tsv",
      "sub-01 has no session 'post1': events file not found")
def layout_missing_session(files, tmp):
    # fMRIPrep has the session, the raw data lack its events.
    bold = Path(str(files["bold"]).replace("ses-pre", "ses-post1"))
    bold.parent.mkdir(parents=True)
    bold.write_bytes(files["bold"].read_bytes())
    return lambda: study_runs(_layout(tmp), ["01"], ["pre", "post1"])


@case("bids", "no subject has session 'post9': check design.sessions")
def layout_unknown_session(files, tmp):
    return lambda: study_runs(_layout(tmp), ["01"], ["pre", "post9"])


@case("bold", "missing bold file for sub-01 ses-pre")
def layout_missing_bold(files, tmp):
    files["bold"].unlink()
    return lambda: study_runs(_layout(tmp), ["01"], ["pre"])


@case("mask", "missing mask file for sub-01 ses-pre")
def layout_missing_mask(files, tmp):
    files["mask"].unlink()
    return lambda: study_runs(_layout(tmp), ["01"], ["pre"])


@case("confounds", "missing confounds file for sub-01 ses-pre")
def layout_missing_confounds(files, tmp):
    files["confounds"].unlink()
    return lambda: study_runs(_layout(tmp), ["01"], ["pre"])


@case("fmriprep/sub-01/ses-pre/func", "several resolutions \\(res-1, res-2.*data.resolution")
def layout_two_resolutions(files, tmp):
    for key in ("bold", "mask"):
        path = files[key]
        res1 = path.with_name(path.name.replace(f"{SPACE}_", f"{SPACE}_res-1_"))
        res1.write_bytes(path.read_bytes())
        path.rename(path.with_name(path.name.replace(f"{SPACE}_", f"{SPACE}_res-2_")))
    return lambda: study_runs(_layout(tmp), ["01"], ["pre"])


@case("fmriprep/sub-01/ses-pre/func", "no preprocessed BOLD in space 'MNI305'.*found "
                                      "spaces: MNI152NLin2009cAsym")
def layout_absent_space(files, tmp):
    return lambda: study_runs(Layout(tmp / "bids", tmp / "fmriprep", "sovt", "MNI305"),
                              ["01"], ["pre"])


@case("config key data.fmriprep_dir", "not set, and .*derivatives/fmriprep does not exist")
def layout_no_derivatives(files, tmp):
    return lambda: fmriprep_root(tmp / "bids", "")


@case("config keys data.bids_dir", "inside the input folder")
def layout_workdir_inside_data(files, tmp):
    def check():
        problems = outputs_inside_inputs([("a", "results/x.tsv")], [tmp / "bids"],
                                         tmp / "bids")
        raise InputError("config keys data.bids_dir, data.fmriprep_dir", problems[0])
    return check


# ------------------------------------------------------------------ confounds, runs, memory

@case("confounds", "lacks column 'std_dvars'.*preprocess.std_dvars_threshold")
def confounds_no_dvars(files, tmp):
    read_tsv(files["confounds"]).drop(columns="std_dvars").to_csv(
        files["confounds"], sep="\t", index=False, na_rep="n/a")
    return lambda: select_confounds(files["confounds"], files["confounds_json"], ConfoundSpec())


@case("confounds", "lacks column 'framewise_displacement'.*preprocess.fd_threshold")
def confounds_no_fd(files, tmp):
    read_tsv(files["confounds"]).drop(columns="framewise_displacement").to_csv(
        files["confounds"], sep="\t", index=False, na_rep="n/a")
    return lambda: select_confounds(files["confounds"], files["confounds_json"], ConfoundSpec())


@case("confounds", "lacks columns starting with 'a_comp_cor_'.*preprocess.confounds.compcor")
def confounds_no_compcor(files, tmp):
    table = read_tsv(files["confounds"])
    table.drop(columns=[c for c in table if "comp_cor" in c]).to_csv(
        files["confounds"], sep="\t", index=False, na_rep="n/a")
    spec = ConfoundSpec(strategy=("motion", "compcor"))
    return lambda: select_confounds(files["confounds"], files["confounds_json"], spec)


@case("a.tsv", "runs r1, r2 have different TRs")
def runs_different_tr(files, tmp):
    paths = []
    for name, tr in (("a.tsv", 2.0), ("b.tsv", 2.5)):
        pd.DataFrame({"tr": [tr], "slice_time_ref": [0.0]}).to_csv(tmp / name, sep="\t",
                                                                   index=False)
        (tmp / f"{name}.json").write_text(json.dumps({"excluded": False}))
        paths.append(str(tmp / name))
    return lambda: session_runs(["r1", "r2"], paths, [p + ".json" for p in paths])


def _memory(tmp, rows):
    path = tmp / "bids/sub-01/ses-pre/beh/sub-01_ses-pre_task-memory_beh.tsv"
    path.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    participants = pd.DataFrame({"subject": ["01"], "role": ["affect"]})
    return lambda: memory_table(_layout(tmp), participants, ["pre"], "memory",
                                ["recalled", "recalled_in_position"])


@case("bids/sub-01/ses-pre/beh/sub-01_ses-pre_task-memory_beh.tsv",
      "memory scores lack column\\(s\\) recalled_in_position")
def memory_no_column(files, tmp):
    return _memory(tmp, {"recalled": [10]})


@case("bids/sub-01/ses-pre/beh/sub-01_ses-pre_task-memory_beh.tsv",
      "expected one row of scores, found 2")
def memory_two_rows(files, tmp):
    return _memory(tmp, {"recalled": [10, 11], "recalled_in_position": [3, 4]})


# ------------------------------------------------------------------ config

@case("config key simulate.grid_mm", "'large' is not of type 'number'")
def config_bad_type(files, tmp):
    return lambda: validate_config({"simulate": {"grid_mm": "large"}}, SCHEMA)


@case("config key data.resolution", "does not match")
def config_bad_resolution(files, tmp):
    return lambda: validate_config({"data": {"resolution": "2mm/x"}}, SCHEMA)


@case("config key data.exclude_subjects", "'reason' is a required property")
def config_exclusion_without_reason(files, tmp):
    return lambda: validate_config({"data": {"exclude_subjects": [{"subject": "01"}]}}, SCHEMA)


@case("config key second_level.analyses", "names must be unique; repeated: a")
def config_duplicate_analysis(files, tmp):
    analysis = {"name": "a", "delta": "delta1", "contrast": "HE"}
    return lambda: check_analyses(validate_config(
        _config({"second_level.analyses": [analysis, analysis]}), SCHEMA))


@case("config key second_level.conjunctions (c)", "analyses \\['zz'\\] are not in")
def config_unknown_conjunction(files, tmp):
    return lambda: check_analyses(validate_config(_config({
        "second_level.conjunctions": [{"name": "c", "analyses": ["empathyHELE", "zz"]}]}),
        SCHEMA))


@case("config key first_level.drift_model", "would filter twice")
def config_two_high_pass_filters(files, tmp):
    return lambda: check_analyses(validate_config(_config({
        "first_level.drift_model": "cosine"}), SCHEMA))


@case("config key second_level.connectivity", "6-connected clusters only")
def config_nilearn_engine_with_18_neighbours(files, tmp):
    return lambda: check_analyses(validate_config(_config({
        "second_level.engine": "nilearn", "second_level.connectivity": 18}), SCHEMA))


@case("config key brain_behaviour.analyses (b).score", "needs its change period")
def config_rating_without_delta(files, tmp):
    return lambda: check_analyses(validate_config(_config({"brain_behaviour.analyses": [
        {"name": "b", "delta": "delta1", "contrast": "HE", "score": {"measure": "empathy"}}]}),
        SCHEMA))


@case("config key second_level.analyses (a).delta", "'delta3' is not a change period")
def config_unknown_period(files, tmp):
    return lambda: check_analyses(validate_config(_config({"second_level.analyses": [
        {"name": "a", "delta": "delta3", "contrast": "HE"}]}), SCHEMA))


@case("config key brain_behaviour.analyses (b).contrast", "'HEplusLE' is not a first-level")
def config_unknown_contrast(files, tmp):
    return lambda: check_analyses(validate_config(_config({"brain_behaviour.analyses": [
        {"name": "b", "delta": "delta1", "contrast": "HEplusLE",
         "score": {"measure": "practice_minutes"}}]}), SCHEMA))


@case("config key design.contrasts (x).expression", "product of two conditions")
def config_nonlinear_contrast(files, tmp):
    return lambda: check_analyses(validate_config(_config({"design.contrasts": [
        {"name": "x", "expression": "HE * LE"}]}), SCHEMA))


@case("config key design.groups", "exactly one group needs control: true")
def config_two_controls(files, tmp):
    return lambda: check_analyses(validate_config(_config({"design.groups": [
        {"name": "affect", "control": True}, {"name": "memory", "control": True}]}), SCHEMA))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_names_the_file_and_the_problem(name, run_files, tmp_path):
    build, where, message = CASES[name]
    trigger = build(run_files, tmp_path)
    with pytest.raises(InputError) as err:
        trigger()
    where, problem = getattr(err.value, "problems", [(err.value.where, err.value.problem)])[0]
    expected = (str(run_files[where]) if where in run_files
                else where if where.startswith("config key") else str(tmp_path / where))
    assert where.startswith(expected), (where, expected)
    assert re.search(message, problem), problem


def test_the_table_is_large_enough():
    assert len(CASES) >= 30


def test_a_rule_script_prints_one_line_and_no_traceback(tmp_path):
    """ecgap.snake.run turns an InputError into one terminal line and exit code 1."""
    script = tmp_path / "job.py"
    script.write_text(
        "import sys\nfrom types import SimpleNamespace\n"
        f"sys.path.insert(0, {str(REPO / 'scripts')!r})\n"
        "from ecgap.ingest import read_events\nfrom ecgap.snake import run\n"
        f"smk = SimpleNamespace(log=[{str(tmp_path / 'job.log')!r}], rule='x')\n"
        f"run(smk, lambda s: read_events({str(tmp_path / 'missing.tsv')!r}))\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"ecgap input error: {tmp_path / 'missing.tsv'}: file not found"]
    assert "Traceback" not in proc.stderr
