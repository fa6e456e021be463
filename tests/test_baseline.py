"""The naive baseline of `make bench` (ecgap.baseline) computes what the workflow computes:
on the tiny study's data its first-level maps equal the workflow's, every run's, and so do
its group-level cluster tables (both engines give the same maps: test_permutation)."""

from __future__ import annotations

import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from ecgap.config import validate_config

from conftest import REPO, TINY

SPACE = "space-MNI152NLin2009cAsym"
GROUP_ANALYSES = ("empathyHELE", "compassionHELE")


@pytest.fixture(scope="module")
def naive(tiny_run, tmp_path_factory):
    """The naive script with ecgap's engine on the tiny run's simulated BIDS + fMRIPrep
    data and settings."""
    tmp = tmp_path_factory.mktemp("naive")
    config = yaml.safe_load(TINY.read_text())
    # One analysis per change period and both brain-behaviour scores (a rating change
    # and a participants column): the group-level code paths, at a third less time.
    config["second_level"]["analyses"] = [a for a in config["second_level"]["analyses"]
                                          if a["name"] in GROUP_ANALYSES]
    config["second_level"]["conjunctions"] = []
    validate_config(config, REPO / "config/schema/config.schema.yaml")
    configfile = tmp / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    out = tmp / "naive"
    proc = subprocess.run([sys.executable, "-m", "ecgap.baseline", "--root",
                           str(tiny_run / "results/simulated"), "--config", str(configfile),
                           "--out", str(out), "--engine", "ecgap"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO / "scripts")})
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
    assert {name for stage, name in analyses if stage == "second_level"} == set(GROUP_ANALYSES)
    for stage, name in analyses:
        ours = pd.read_csv(tiny_run / "results" / stage / name / "clusters.tsv", sep="\t")
        theirs = pd.read_csv(out / "ecgap" / f"{name}_clusters.tsv", sep="\t")
        assert len(ours) > 0, name
        pd.testing.assert_frame_equal(ours, theirs, check_exact=False, rtol=1e-4, atol=1e-6)
