"""Shared fixtures: paths, a Snakemake runner, one tiny workflow run, one simulated run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgap.bids import Layout, canonical_run_paths
from ecgap.config import design_from_config, validate_config
from ecgap.io import save_nifti, write_json, write_tsv
from ecgap.simulate_behaviour import BehaviourParams, StudyDesign
from ecgap.simulate_images import ImagingParams, simulate_run
from ecgap.task import TaskDesign, make_task_events, n_volumes

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TINY = REPO / "tests" / "configs" / "tiny.yaml"
BIN = Path(sys.executable).parent
#: The paper's design: the study-design model of the default config, and the default
#: config's planted effects.
PAPER = design_from_config(validate_config({}, REPO / "config/schema/config.schema.yaml"))
PAPER_SIM = validate_config({})["simulate"]
BEHAVIOUR = BehaviourParams(**PAPER_SIM["behaviour"])
IMAGING = ImagingParams(**PAPER_SIM["imaging"])
LINK = PAPER_SIM["imaging"]["link"]
#: A simulated subject's imaging gains at their mean (the paper's changes and link).
UNIT_GAINS = {"gain_delta1": 1.0, "gain_aMCC": 1.0, "gain_delta2": 1.0}


def paper_study(affect: int, memory: int, **kwargs) -> StudyDesign:
    """A simulated study of the paper's design with these group sizes."""
    return StudyDesign(study=PAPER, group_sizes=(affect, memory), **kwargs)


def run_snakemake(workdir: Path, *args: str, configfile: Path = TINY, check: bool = True,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the workflow with ``workdir`` as working directory; output captured. ``env``
    adds environment variables."""
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--cores", "2", *args, "--configfile", str(configfile)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny simulated config run through ingest, once per test session.

    ECGAP_TINY_RUN=<dir> reuses (and brings up to date) a run in that directory, which
    makes iterating on the workflow tests fast.
    """
    reuse = os.environ.get("ECGAP_TINY_RUN")
    workdir = Path(reuse) if reuse else tmp_path_factory.mktemp("tiny")
    run_snakemake(workdir)
    return workdir


@pytest.fixture(scope="session")
def tiny_bids(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine copy of the tiny simulated BIDS + fMRIPrep data; copy it again to mutate."""
    dest = tmp_path_factory.mktemp("tiny_bids") / "simulated"
    shutil.copytree(tiny_run / "results" / "simulated", dest)
    return dest


def bids_config(tmp_path: Path, data_root: Path, extra: str = "") -> Path:
    """A config that reads ``data_root`` (a copy of the simulated data) as real BIDS."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "data:\n  source: bids\n"
        f"  bids_dir: {data_root / 'bids'}\n"
        f"  fmriprep_dir: {data_root / 'derivatives' / 'fmriprep'}\n" + extra)
    return path


@pytest.fixture()
def run_files(tmp_path: Path) -> dict[str, Path]:
    """One valid simulated run (8 mm grid) written in fMRIPrep layout under tmp_path."""
    layout = Layout(tmp_path / "bids", tmp_path / "fmriprep", "sovt", "MNI152NLin2009cAsym")
    files = canonical_run_paths(layout, "01", "pre")
    design = TaskDesign(videos_per_type=3)
    events = make_task_events(design, PAPER, np.random.default_rng(0))
    n_vols = n_volumes(events, 2.0, design.lead_out)
    bold, mask, confounds, sidecar = simulate_run(
        events, UNIT_GAINS, 0, False, IMAGING, 8, 2.0, n_vols, seed=[0], design=PAPER)
    write_tsv(events, files["events"])
    save_nifti(bold, files["bold"])
    save_nifti(mask, files["mask"])
    write_json({"RepetitionTime": 2.0, "TaskName": "sovt"}, files["bold_json"])
    write_tsv(confounds, files["confounds"])
    write_json(sidecar, files["confounds_json"])
    return files
