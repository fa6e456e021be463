"""Interruption, caching and determinism: a run killed mid-way (SIGKILL to Snakemake and
its jobs) and rerun gives the same files as the uninterrupted tiny run, and no output is
ever half-written; a second working directory with --cache takes the simulated runs and
first-level GLMs from the output cache, and both equal the tiny run's; and the group
level, forced to run again from the change maps on, gives identical files. Together these
are two clean computations of every stage compared file by file. The part of the workflow
the first two run (two subjects through the first level, and the behavioural statistics)
keeps them short."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from conftest import BIN, REPO, TINY, run_snakemake

SUBJECTS = ("01", "02")
SESSIONS = ("pre", "post1", "post2")
SPACE = "MNI152NLin2009cAsym"


def _targets() -> list[str]:
    maps = [f"results/first_level/sub-{s}/ses-{ses}/sub-{s}_ses-{ses}_task-sovt_space-"
            f"{SPACE}_contrast-{c}_stat-effect_statmap.nii.gz"
            for s in SUBJECTS for ses in SESSIONS for c in ("HE", "LE")]
    return maps + ["results/behaviour/manova.tsv", "results/behaviour/ttests.tsv"]


def _group_level_results(root: Path) -> list[str]:
    """The group level's tables: every analysis' clusters and ROI values, the
    conjunctions' verdicts and the truth recovery."""
    results = root / "results"
    tables = [p for folder in ("second_level", "brain_behaviour", "conjunctions")
              for name in ("clusters.tsv", "roi_values.tsv", "verdict.txt")
              for p in (results / folder).glob(f"*/{name}")]
    tables.append(results / "second_level/truth_recovery.tsv")
    return sorted(str(p.relative_to(root)) for p in tables)


def _outputs(root: Path) -> list[Path]:
    """Every output file of the partial run that the tiny run has too."""
    keep = [p for p in (root / "results").rglob("*")
            if p.is_file() and p.suffix in (".tsv", ".gz", ".json")
            and "logs" not in p.parts and "benchmarks" not in p.parts
            and not p.name.startswith(".")]
    return sorted(p.relative_to(root) for p in keep)


def _same(a: Path, b: Path) -> None:
    if a.name.endswith(".nii.gz"):
        left, right = nib.load(a), nib.load(b)
        np.testing.assert_array_equal(np.asarray(left.dataobj), np.asarray(right.dataobj))
        np.testing.assert_array_equal(left.affine, right.affine)
    elif a.suffix == ".tsv":
        pd.testing.assert_frame_equal(pd.read_csv(a, sep="\t"), pd.read_csv(b, sep="\t"))
    else:
        assert a.read_bytes() == b.read_bytes(), a


def _complete(path: Path) -> None:
    """The file parses in full (a half-written file would not)."""
    if path.name.endswith(".nii.gz"):
        np.asarray(nib.load(path).dataobj).sum()
    elif path.suffix == ".tsv":
        pd.read_csv(path, sep="\t")


def test_killed_run_resumes_to_the_same_files(tiny_run, tmp_path):
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
           "--cores", "2", *_targets(), "--configfile", str(TINY)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    # Kill once the first preprocessed runs exist, while other runs are being written.
    while time.time() < deadline and proc.poll() is None:
        if len(list((tmp_path / "results/preprocess").rglob("*_timeseries.tsv"))) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for path in _outputs(tmp_path):
        _complete(tmp_path / path)
    run_snakemake(tmp_path, "--unlock")  # a killed Snakemake leaves its lock behind
    run_snakemake(tmp_path, *_targets())  # the default profile has rerun-incomplete
    outputs = _outputs(tmp_path)
    assert len(outputs) > 40
    for path in outputs:
        _same(tmp_path / path, tiny_run / path)


def test_group_level_rerun_gives_identical_results(tiny_run, tmp_path):
    """Permutation inference is seeded: forcing the group level (from the subjects' change
    maps on) to run again on the same first-level maps reproduces every table exactly and
    every image to the last bit."""
    work = tmp_path / "work"
    shutil.copytree(tiny_run, work, symlinks=True)
    started = time.time()
    # change maps and every job downstream of them up to the group level's results (the
    # figures drawn from them are left out: test_figures and test_workflow check those)
    run_snakemake(work, *_group_level_results(tiny_run), "--forcerun", "change_maps")
    produced = [p for p in _outputs(work)
                if p.parts[1] in ("second_level", "brain_behaviour", "conjunctions")]
    assert {p.parts[1] for p in produced} == {"second_level", "brain_behaviour",
                                              "conjunctions"}
    rerun = [p for p in produced if (work / p).stat().st_mtime >= started]
    assert any("changes" in p.parts for p in rerun)  # really computed again
    assert any(p.name == "roi_values.tsv" for p in rerun)
    assert len(rerun) > 100, sorted(set(produced) - set(rerun))[:20]
    for path in produced:
        _same(work / path, tiny_run / path)


def test_second_workdir_takes_simulation_and_first_level_from_the_cache(tiny_run, tmp_path):
    """--cache with SNAKEMAKE_OUTPUT_CACHE: the first working directory computes and
    stores simulate_run and first_level outputs, the second takes every one of them from
    the cache (Snakemake links them in and leaves the jobs' logs empty) and gets the same
    files; the other rules run as usual."""
    env = {"SNAKEMAKE_OUTPUT_CACHE": str(tmp_path / "cache")}
    (tmp_path / "cache").mkdir()
    first, second = tmp_path / "first", tmp_path / "second"
    n_runs = len(SUBJECTS) * len(SESSIONS)
    stored, linked = {}, {}
    for workdir in (first, second):
        workdir.mkdir()
        # Targets before --cache: it takes every word that follows as a rule name.
        proc = run_snakemake(workdir, *_targets(), "--cache", env=env)
        lines = (proc.stdout + proc.stderr).splitlines()
        stored[workdir] = [line for line in lines if line.endswith(" to cache.")]
        linked[workdir] = [line for line in lines if line.endswith(" from cache.")]
    # simulation (5 files) + first level (the maps, the design table and the sidecar)
    per_run = 5 + 3 * len(("HE", "LE", "HEMinusLE", "meanHELE")) + 2
    assert len(stored[first]) == n_runs * per_run  # moved into the cache, linked back
    assert stored[second] == [] and len(linked[second]) == n_runs * per_run
    for rule in ("simulate_run", "first_level"):
        logs = list((second / "results/logs" / rule).glob("*.log"))
        assert len(logs) == n_runs and all(log.stat().st_size == 0 for log in logs)
    ran = list((second / "results/logs/preprocess_run").glob("*.log"))
    assert len(ran) == n_runs and all(log.stat().st_size > 0 for log in ran)  # not cached
    # Cached rules write no benchmark under --cache (Snakemake forbids both); others do.
    assert not (first / "results/benchmarks/first_level").exists()
    assert len(list((first / "results/benchmarks/preprocess_run").glob("*.tsv"))) == n_runs
    outputs = _outputs(second)
    assert outputs == _outputs(first) and len(outputs) > 40
    for path in outputs:
        _same(second / path, tiny_run / path)
