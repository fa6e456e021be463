"""The naive baseline of `make bench` (ecgap.baseline) computes what the workflow computes:
on the tiny study's data its first-level maps equal the workflow's, every run's, and so do
its group-level cluster tables (both engines give the same maps: test_permutation)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from conftest import BACKGROUND, NAIVE_ANALYSES, naive_baseline

SPACE = "space-MNI152NLin2009cAsym"


@pytest.fixture(scope="module")
def naive(tiny_run, tmp_path_factory):
    """The naive script with ecgap's engine on the tiny run's data (conftest starts it in
    the background as soon as the tiny run is done)."""
    config, out, proc = BACKGROUND.result(
        "naive", lambda: naive_baseline(tmp_path_factory.mktemp("naive"), tiny_run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 runs excluded" in proc.stdout  # the tiny study's high-motion run
    return config, out


def test_naive_first_level_equals_the_workflows_for_every_run(naive, tiny_run):
    config, out = naive
    maps = sorted(out.glob("sub-*_effect.nii.gz"))
    assert len(maps) == 54 * 4
    worst = 0.0
    for path in maps:
        stem, contrast = path.name.split("_contrast-")
        subject, session = stem.split("_")[:2]
        workflow = tiny_run / "results/first_level" / subject / session / (
            f"{stem}_{SPACE}_contrast-{contrast.replace('_effect.nii.gz', '')}"
            "_stat-effect_statmap.nii.gz")
        ours = np.asarray(nib.load(workflow).dataobj)
        theirs = np.asarray(nib.load(path).dataobj)
        worst = max(worst, float(np.abs(ours - theirs).max() / np.abs(ours).max()))
    assert worst < 1e-5, worst


def test_naive_group_level_equals_the_workflows(naive, tiny_run):
    config, out = naive
    analyses = [("second_level", a["name"]) for a in config["second_level"]["analyses"]]
    analyses += [("brain_behaviour", b["name"]) for b in config["brain_behaviour"]["analyses"]]
    assert {name for stage, name in analyses if stage == "second_level"} == set(NAIVE_ANALYSES)
    for stage, name in analyses:
        ours = pd.read_csv(tiny_run / "results" / stage / name / "clusters.tsv", sep="\t")
        theirs = pd.read_csv(out / "ecgap" / f"{name}_clusters.tsv", sep="\t")
        assert len(ours) > 0, name
        pd.testing.assert_frame_equal(ours, theirs, check_exact=False, rtol=1e-4, atol=1e-6)
