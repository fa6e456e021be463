"""Shared fixtures: paths, a Snakemake runner, one tiny workflow run, one simulated run."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from ecgap.bids import Layout, canonical_run_paths
from ecgap.config import design_from_config, validate_config
from ecgap.io import save_nifti, write_json, write_tsv
from ecgap.simulate_behaviour import BehaviourParams, StudyDesign
from ecgap.simulate_images import ImagingParams, simulate_run
from ecgap.task import TaskDesign, make_task_events, n_volumes
from preset_configs import TARGETS as PRESET_TARGETS, tiny_preset

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


def snakemake_command(workdir: Path, *args: str, configfile: Path = TINY) -> list[str]:
    """The workflow's command line on 2 cores in ``workdir``."""
    return [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--cores", "2", *args, "--configfile", str(configfile)]


def run_snakemake(workdir: Path, *args: str, configfile: Path = TINY, check: bool = True,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the workflow with ``workdir`` as working directory; output captured. ``env``
    adds environment variables."""
    cmd = snakemake_command(workdir, *args, configfile=configfile)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


class Background:
    """The session's slow shared computations, made in a worker thread while the other
    tests run: the tiny workflow run, the naive baseline on its data, the three-group run.

    The tests are ordered (``pytest_collection_modifyitems``) so that each computation
    overlaps tests that leave a core free: the single-threaded unit tests beside the tiny
    run, the tiny run's tests beside the one-process naive script and the three-group
    run. A computation no selected test needs is never started;
    ``result`` computes one in the calling test if it was not started. Each computation
    is a function of no arguments, called only if it runs.
    """

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecgap-background")
        self.futures: dict[str, Future] = {}
        self.processes: list[subprocess.Popen] = []
        self.lock = threading.Lock()
        self.stopped = False

    def submit(self, name: str, compute: Callable[[], Any]) -> None:
        if name not in self.futures:
            self.futures[name] = self.pool.submit(compute)

    def result(self, name: str, compute: Callable[[], Any]) -> Any:
        self.submit(name, compute)
        return self.futures[name].result()

    def run(self, cmd: list[str], cwd: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        """``subprocess.run`` that ``stop`` can kill (with its child processes); after
        ``stop``, it starts nothing."""
        with self.lock:  # a process started while stop() kills would be waited for
            if self.stopped:
                raise RuntimeError("the test session has ended")
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, start_new_session=True)
            self.processes.append(proc)
        out, err = proc.communicate()
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    def stop(self) -> None:
        for future in self.futures.values():
            future.cancel()
        with self.lock:
            self.stopped = True
            for proc in self.processes:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
        self.pool.shutdown(wait=True)


BACKGROUND = Background()


#: The test stages, in the order they run: unit tests, the tiny run's tests, the naive
#: baseline's, workflow tests with runs of their own, the three-group preset run's.
UNIT, TINY_RUN, NAIVE, OWN_RUN, THREE_GROUPS = range(5)


def _order(item: pytest.Item) -> int:
    """The stage of a test. The background computations are made in the order the stages
    need them (the tiny run, the naive baseline, the three-group run); the tiny run's
    tests (dry runs, SLURM polling, small reruns: about one core on average) run beside
    the last two."""
    if "naive" in item.fixturenames:
        return NAIVE
    if "tiny_run" in item.fixturenames:
        return TINY_RUN
    if "three_groups_run" in item.fixturenames:
        return THREE_GROUPS
    return OWN_RUN if item.get_closest_marker("workflow") else UNIT


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_order)  # stable: file order within each group


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the background computations the selected tests need (after -k, -m and
    --deselect have dropped tests; none for --collect-only)."""
    if session.config.option.collectonly:
        return
    # nilearn calls gc.collect() at every image access, and each call walks every object
    # the test modules' imports made (0.13 s a call here: 7.6 s of nilearn's permuted_ols
    # in test_permutation, 0.04 s frozen). Frozen, as in the workflow's jobs, they are
    # skipped; nothing imported is ever garbage.
    gc.freeze()
    stages = {_order(item) for item in session.items}
    factory = session.config._tmp_path_factory  # what the tmp_path_factory fixture hands out
    factory.getbasetemp()  # made here, not by the worker and a test's tmp_path at once
    if stages & {TINY_RUN, NAIVE}:
        BACKGROUND.submit("tiny", lambda: build_tiny_run(tiny_run_dir(factory)))
    if NAIVE in stages:
        BACKGROUND.submit("naive", lambda: naive_baseline(factory.mktemp("naive"),
                                                          BACKGROUND.futures["tiny"].result()))
    if THREE_GROUPS in stages:
        BACKGROUND.submit("three_groups", lambda: build_preset_run(
            "three_groups", factory.mktemp("three_groups")))


def pytest_sessionfinish(session: pytest.Session) -> None:
    BACKGROUND.stop()


def tiny_run_dir(factory: pytest.TempPathFactory) -> Path:
    """ECGAP_TINY_RUN=<dir> reuses (and brings up to date) a run in that directory, which
    makes iterating on the workflow tests fast."""
    reuse = os.environ.get("ECGAP_TINY_RUN")
    return Path(reuse) if reuse else factory.mktemp("tiny")


def build_tiny_run(workdir: Path) -> Path:
    _background_snakemake(workdir, configfile=TINY)
    return workdir


def build_preset_run(name: str, workdir: Path) -> Path:
    """A design preset at the tiny test size, run up to truth recovery and the behaviour
    tables in ``workdir``: its results folder."""
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(tiny_preset(name)))
    _background_snakemake(workdir, *PRESET_TARGETS, configfile=configfile)
    return workdir / "results"


def _background_snakemake(workdir: Path, *args: str, configfile: Path) -> None:
    proc = BACKGROUND.run(snakemake_command(workdir, *args, configfile=configfile), workdir)
    if proc.returncode != 0:
        raise AssertionError(f"the run in {workdir} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")


#: The naive baseline runs one analysis per change period and both brain-behaviour
#: scores (a rating change and a participants column): the group-level code paths, at a
#: third less time than all four.
NAIVE_ANALYSES = ("empathyHELE", "compassionHELE")


def naive_baseline(tmp: Path, tiny: Path
                   ) -> tuple[dict, Path, subprocess.CompletedProcess[str]]:
    """The naive script (``ecgap.baseline``) with ecgap's engine on the tiny run's
    simulated BIDS + fMRIPrep data and settings: its config, output folder and process."""
    config = yaml.safe_load(TINY.read_text())
    config["second_level"]["analyses"] = [a for a in config["second_level"]["analyses"]
                                          if a["name"] in NAIVE_ANALYSES]
    config["second_level"]["conjunctions"] = []
    validate_config(config, REPO / "config/schema/config.schema.yaml")
    configfile = tmp / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    out = tmp / "naive"
    proc = BACKGROUND.run([sys.executable, "-m", "ecgap.baseline", "--root",
                           str(tiny / "results/simulated"), "--config", str(configfile),
                           "--out", str(out), "--engine", "ecgap"], tmp,
                          env={**os.environ, "PYTHONPATH": str(REPO / "scripts")})
    return config, out, proc


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny simulated config run through ingest, once per test session (started in
    the background at collection when a collected test needs it)."""
    return BACKGROUND.result("tiny", lambda: build_tiny_run(tiny_run_dir(tmp_path_factory)))


@pytest.fixture(scope="session")
def three_groups_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three-group preset, tiny-sized, simulated and run up to truth recovery and the
    behaviour tables (started in the background at collection): its results folder."""
    return BACKGROUND.result("three_groups", lambda: build_preset_run(
        "three_groups", tmp_path_factory.mktemp("three_groups")))


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
