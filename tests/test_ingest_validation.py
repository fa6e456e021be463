"""Bad inputs fail with an InputError naming the file and the problem."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from ecgap.bids import Layout, check_complete, check_label, index_runs
from ecgap.ingest import check_run, read_events, read_participants
from ecgap.io import InputError

GROUPS = {"affect": "affect", "memory": "memory"}


def _participants(tmp_path, rows):
    path = tmp_path / "participants.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def test_valid_run_passes(run_files):
    info = check_run(run_files, 2.0, 0.01, True, ["HE", "LE"])
    assert info["tr"] == 2.0 and info["n_volumes"] > 50


def test_tr_in_sidecar_disagrees_with_config(run_files):
    with pytest.raises(InputError) as err:
        check_run(run_files, 2.5, 0.01, True)
    assert err.value.where == str(run_files["bold_json"])
    assert "RepetitionTime 2.0 s disagrees with the config's data.tr = 2.5" in str(err.value)


def test_tr_in_header_disagrees_with_sidecar(run_files):
    img = nib.load(run_files["bold"])
    img.header.set_zooms(img.header.get_zooms()[:3] + (1.0,))
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj), img.affine, img.header),
             run_files["bold"])
    with pytest.raises(InputError, match="header TR .* 1.0 s disagrees"):
        check_run(run_files, None, 0.01, True)
    assert check_run(run_files, None, 0.01, False)["tr"] == 2.0  # switch documented


def test_missing_repetition_time(run_files):
    run_files["bold_json"].write_text(json.dumps({"TaskName": "sovt"}))
    with pytest.raises(InputError, match="RepetitionTime is missing"):
        check_run(run_files, None, 0.01, True)


def test_mask_with_other_shape(run_files):
    mask = nib.load(run_files["mask"])
    nib.save(nib.Nifti1Image(np.asarray(mask.dataobj)[:-1], mask.affine), run_files["mask"])
    with pytest.raises(InputError) as err:
        check_run(run_files, None, 0.01, True)
    assert err.value.where == str(run_files["mask"]) and "does not match" in str(err.value)


def test_mask_with_other_affine(run_files):
    mask = nib.load(run_files["mask"])
    affine = mask.affine.copy()
    affine[0, 3] += 4
    nib.save(nib.Nifti1Image(np.asarray(mask.dataobj), affine), run_files["mask"])
    with pytest.raises(InputError, match="shape or affine differ"):
        check_run(run_files, None, 0.01, True)


def test_nans_inside_mask(run_files):
    img = nib.load(run_files["bold"])
    data = img.get_fdata(dtype=np.float32)
    inside = np.argwhere(np.asarray(nib.load(run_files["mask"]).dataobj) > 0)[:3]
    for i, j, k in inside:
        data[i, j, k, 5] = np.nan
    header = img.header.copy()
    header.set_data_dtype(np.float32)  # NaNs exist only in float images
    nib.save(nib.Nifti1Image(data, img.affine, header), run_files["bold"])
    with pytest.raises(InputError) as err:
        check_run(run_files, None, 0.01, True)
    assert err.value.where == str(run_files["bold"]) and "3 voxel(s)" in str(err.value)


def test_confounds_length_mismatch(run_files):
    table = pd.read_csv(run_files["confounds"], sep="\t")
    table.iloc[:-2].to_csv(run_files["confounds"], sep="\t", index=False)
    with pytest.raises(InputError, match="rows but the BOLD series has"):
        check_run(run_files, None, 0.01, True)


def test_events_missing_column(run_files):
    events = pd.read_csv(run_files["events"], sep="\t").drop(columns="duration")
    events.to_csv(run_files["events"], sep="\t", index=False)
    with pytest.raises(InputError) as err:
        read_events(run_files["events"])
    assert err.value.where == str(run_files["events"])
    assert "lacks required column(s) duration" in str(err.value)


def test_events_negative_duration(run_files):
    events = pd.read_csv(run_files["events"], sep="\t")
    events.loc[4, "duration"] = -3
    events.to_csv(run_files["events"], sep="\t", index=False)
    with pytest.raises(InputError, match="negative duration .* on line 6"):
        read_events(run_files["events"])


def test_events_non_numeric_onset(run_files):
    events = pd.read_csv(run_files["events"], sep="\t").astype({"onset": object})
    events.loc[0, "onset"] = "soon"
    events.to_csv(run_files["events"], sep="\t", index=False)
    with pytest.raises(InputError, match="onset is missing or not a number on line 2"):
        read_events(run_files["events"])


def test_events_without_required_trial_type(run_files):
    with pytest.raises(InputError, match="no events of trial_type 'HEV'"):
        read_events(run_files["events"], ["HEV"])


def test_duplicate_participant_ids(tmp_path):
    path = _participants(tmp_path, {"participant_id": ["sub-01", "sub-01"],
                                    "group": ["affect", "memory"], "age": [20, 21],
                                    "bdi": [1, 2]})
    with pytest.raises(InputError, match="duplicate participant_id: sub-01") as err:
        read_participants(path, GROUPS)
    assert err.value.where == str(path)


def test_unknown_group_label(tmp_path):
    path = _participants(tmp_path, {"participant_id": ["sub-01", "sub-02"],
                                    "group": ["affect", "control"], "age": [20, 21],
                                    "bdi": [1, 2]})
    with pytest.raises(InputError, match="'control' not in the config's design.groups labels"):
        read_participants(path, GROUPS)


@pytest.mark.parametrize("label", ["../x", "sub-0 1", "sub-01_a", "sub-"])
def test_participant_label_not_plain(tmp_path, label):
    path = _participants(tmp_path, {"participant_id": [label], "group": ["affect"],
                                    "age": [20], "bdi": [1]})
    with pytest.raises(InputError, match="not a plain BIDS label"):
        read_participants(path, GROUPS)


def test_na_covariate_is_kept_for_the_analyses_to_drop(tmp_path):
    path = _participants(tmp_path, {"participant_id": ["sub-01", "sub-02"],
                                    "group": ["affect", "memory"], "age": ["n/a", 30],
                                    "bdi": [1, 2]})
    table = read_participants(path, GROUPS)
    assert table["age"].isna().tolist() == [True, False]


def test_non_numeric_covariate(tmp_path):
    path = _participants(tmp_path, {"participant_id": ["sub-01"], "group": ["affect"],
                                    "age": ["old"], "bdi": [1]})
    with pytest.raises(InputError, match="'age' is not numeric for sub-01"):
        read_participants(path, GROUPS)


def test_check_label_accepts_plain_labels():
    assert check_label("sub-01", "x") == "01"
    assert check_label("ABC7", "x") == "ABC7"


@pytest.mark.parametrize("key", ["events", "mask", "confounds", "bold"])
def test_missing_run_file(run_files, tmp_path, key):
    layout = Layout(tmp_path / "bids", tmp_path / "fmriprep", "sovt", "MNI152NLin2009cAsym")
    run_files[key].unlink()
    with pytest.raises(InputError) as err:
        check_complete(index_runs(layout), layout, ["01"], ["pre"])
    assert err.value.where == str(run_files[key])
    expected = "has no session 'pre'" if key == "events" else f"missing {key}"
    assert expected in str(err.value)


def test_missing_session(run_files, tmp_path):
    layout = Layout(tmp_path / "bids", tmp_path / "fmriprep", "sovt", "MNI152NLin2009cAsym")
    with pytest.raises(InputError, match="sub-01 has no session 'post1'") as err:
        check_complete(index_runs(layout), layout, ["01"], ["pre", "post1", "post2"])
    assert "ses-post1" in err.value.where


def test_only_a_bold_that_can_hold_nan_is_read_for_it(tmp_path):
    """An integer series cannot hold NaN or inf (fMRIPrep's int16 BOLD): ingest skips
    reading it; a floating-point one is read, and its non-finite voxels are counted."""
    from ecgap.ingest import may_hold_non_finite, non_finite_voxels

    data = np.zeros((3, 3, 3, 4), dtype=np.float32)
    data[1, 1, 1, 2] = np.nan
    data[0, 0, 0, 0] = np.inf
    inside = np.ones((3, 3, 3), dtype=bool)
    for dtype, expected in ((np.int16, False), (np.uint8, False), (np.float32, True),
                            (np.float64, True)):
        path = tmp_path / f"bold_{np.dtype(dtype).name}.nii.gz"
        img = nib.Nifti1Image(np.nan_to_num(data, posinf=0).astype(dtype)
                              if np.issubdtype(dtype, np.integer) else data, np.eye(4))
        img.set_data_dtype(dtype)
        nib.save(img, path)
        assert may_hold_non_finite(nib.load(path)) is expected, dtype
        if expected:
            assert non_finite_voxels(nib.load(path), inside) == 2
    scaled = nib.Nifti1Image(np.zeros((3, 3, 3, 4), dtype=np.int16), np.eye(4))
    scaled.header.set_slope_inter(2.0, 1.0)
    nib.save(scaled, tmp_path / "scaled.nii")
    assert not may_hold_non_finite(nib.load(tmp_path / "scaled.nii"))
