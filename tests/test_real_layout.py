"""The workflow on a BIDS + fMRIPrep dataset it did not make, run as a user runs it.

The dataset is written by the simulator *library* (not the workflow's simulate rules)
into a folder outside the working directory, in the layout real fMRIPrep output has:
derivatives inside ``bids/derivatives/fmriprep`` (found without ``data.fmriprep_dir``),
``res-2`` images beside decoy spaces, raw ``run-01``/``run-02`` matched to derivative
``run-1``/``run-2`` for one subject, pre-20.2 ``desc-confounds_regressors`` for another,
uncompressed ``.nii`` for a third, a symlinked subject folder, a subject without its
Post2 session, extra and ``n/a`` trial types, an ``n/a`` covariate and a subject
excluded by the config. Every input file must
be present and byte-identical after each kind of run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import BIN, PAPER, REPO, TINY, run_snakemake
from ecgap.bids import Layout, canonical_run_paths
from ecgap.config import validate_config
from ecgap.io import read_tsv, write_tsv
from ecgap.simulate_study import write_run, write_study

pytestmark = pytest.mark.workflow
SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"
SPACE = "MNI152NLin2009cAsym"
STUDY = {
    "data": {"source": "simulate"},
    "simulate": {"seed": 11, "group_sizes": {"affect": 7, "memory": 7},
                 "n_high_motion_runs": 0, "grid_mm": 8, "task": {"videos_per_type": 3},
                 "imaging": {"changes": yaml.safe_load(TINY.read_text())["simulate"]["imaging"][
                     "changes"], "region_fwhm_mm": 20, "noise_pct": 0.5}},
}
MULTI_RUN, OLD_FMRIPREP, UNCOMPRESSED, SYMLINKED, NO_POST2 = "01", "02", "03", "04", "05"
SLICE_TIMED = "06"
NA_COVARIATE, EXCLUDED = "08", "14"


def _rename(path: Path, old: str, new: str) -> Path:
    target = path.with_name(path.name.replace(old, new))
    path.rename(target)
    return target


def _add_entity(der: Path, prefix: str, entity: str) -> None:
    """Insert ``entity`` after the space entity of every image of one run (res-2)."""
    for path in der.glob(f"{prefix}_space-{SPACE}_*"):
        _rename(path, f"_space-{SPACE}_", f"_space-{SPACE}_{entity}_")


def _second_run(layout: Layout, subject: str, study: dict) -> None:
    """Give one subject's Pre session two runs: raw run-01/run-02, derivatives
    run-1/run-2 (fMRIPrep 20.2 drops the zero padding)."""
    paths = canonical_run_paths(layout, subject, "pre")
    events = read_tsv(paths["events"])
    gains = read_tsv(layout.bids_dir.parent / "truth/imaging_subjects.tsv").set_index(
        "participant_id").loc[f"sub-{subject}"]

    def named(run: int) -> dict[str, Path]:
        label = {"events": f"{run:02d}"}
        return {k: p.with_name(p.name.replace("_task-sovt_",
                                              f"_task-sovt_run-{label.get(k, run)}_"))
                for k, p in paths.items()}

    # Seeded as another subject's run: the same design, independent noise.
    write_run(events, gains, 0, False, study["simulate"], "sovt", "99", named(2), PAPER)
    write_tsv(events, named(2)["events"])
    for key, path in paths.items():
        path.rename(named(1)[key])


def _real_layout(root: Path) -> Path:
    """Write the study and reshape it into the layout real fMRIPrep output has."""
    study = validate_config(json.loads(json.dumps(STUDY)), SCHEMA)
    bids = root / "bids"
    fmriprep = bids / "derivatives" / "fmriprep"
    subjects = write_study(study, bids, fmriprep, root / "truth")
    layout = Layout(bids, fmriprep, "sovt", SPACE)
    _second_run(layout, MULTI_RUN, study)
    for subject in subjects:
        for session in ("pre", "post1", "post2"):
            der = layout.func_dir(fmriprep, subject, session)
            prefix = f"sub-{subject}_ses-{session}_task-sovt"
            for run_prefix in sorted({p.name.split("_space-")[0]
                                      for p in der.glob(f"{prefix}*_space-*")}):
                _add_entity(der, run_prefix, "res-2")
                decoy = der / f"{run_prefix}_space-MNI152NLin6Asym_desc-smoothAROMAnonaggr_bold.nii.gz"
                decoy.write_bytes(b"")
                (der / f"{run_prefix}_space-fsaverage5_hemi-L_bold.func.gii").write_bytes(b"")
            if subject == SLICE_TIMED:  # fMRIPrep's slice-timing correction to mid-TR
                for path in der.glob("*_desc-preproc_bold.json"):
                    sidecar = json.loads(path.read_text())
                    path.write_text(json.dumps({**sidecar, "SliceTimingCorrected": True,
                                                "StartTime": 0.95}))
            if subject == OLD_FMRIPREP:
                for path in der.glob("*_desc-confounds_timeseries.*"):
                    _rename(path, "_timeseries.", "_regressors.")
            if subject == UNCOMPRESSED:
                for path in der.glob("*.nii.gz"):
                    if path.stat().st_size:
                        img = nib.load(path)
                        nib.save(img, path.with_name(path.name[:-3]))
                        path.unlink()
    _extra_events(layout)
    for folder in (bids, fmriprep):  # one subject never came back for Post2
        shutil.rmtree(folder / f"sub-{NO_POST2}" / "ses-post2")
    moved = root / "elsewhere" / f"sub-{SYMLINKED}"
    moved.parent.mkdir()
    shutil.move(bids / f"sub-{SYMLINKED}", moved)
    (bids / f"sub-{SYMLINKED}").symlink_to(moved, target_is_directory=True)
    participants = read_tsv(bids / "participants.tsv", dtype={"participant_id": str})
    participants.loc[participants.participant_id == f"sub-{NA_COVARIATE}", "bdi"] = np.nan
    write_tsv(participants, bids / "participants.tsv")
    return bids


def _extra_events(layout: Layout) -> None:
    """Button presses in every run and an unlabelled row in one (the GLM ignores both)."""
    for i, path in enumerate(sorted(layout.bids_dir.glob("sub-*/ses-*/func/*_events.tsv"))):
        events = read_tsv(path)
        videos = events[events.trial_type == "HE"]
        extra = [{"onset": o + 2.0, "duration": 0.0, "trial_type": "button_press"}
                 for o in videos.onset]
        if i == 0:
            extra.append({"onset": 1.0, "duration": 0.5, "trial_type": np.nan})
        events = pd.concat([events, pd.DataFrame(extra)]).sort_values("onset", kind="stable")
        write_tsv(events, path)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and symlink under ``root``: size and SHA-256, or the link target."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_file():
                out[rel] = (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def _config(path: Path, bids: Path, **second_level) -> Path:
    config = {
        "data": {"source": "bids", "bids_dir": str(bids), "resolution": "2",
                 "exclude_subjects": [{"subject": EXCLUDED, "reason": "withdrew consent"}]},
        "preprocess": {"max_scrubbed_fraction": 0.9},
        "second_level": {"n_permutations": 100, "cluster_forming_p": 0.01,
                         "analyses": [{"name": "empathyHELE", "delta": "delta1",
                                       "contrast": "meanHELE"},
                                      {"name": "compassionHELE", "delta": "delta2",
                                       "contrast": "meanHELE"}],
                         "conjunctions": [{"name": "HELE",
                                           "analyses": ["empathyHELE", "compassionHELE"]}],
                         **second_level},
        "brain_behaviour": {"covariates": [], "analyses": [
            {"name": "empathyRating", "delta": "delta1", "contrast": "meanHELE",
             "score": {"measure": "empathy", "delta": "delta1"}}]},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's dataset, in a folder no working directory is inside of."""
    return _real_layout(tmp_path_factory.mktemp("user_data"))


def test_every_kind_of_run_leaves_the_inputs_untouched(outside, tmp_path_factory):
    before = snapshot(outside.parent)
    assert len(before) > 300

    def unchanged(step: str) -> None:
        after = snapshot(outside.parent)
        assert after == before, (step, sorted(set(before.items()) ^ set(after.items()))[:5])

    # A behaviour-only target from a fresh working directory: what once deleted events.
    alone = tmp_path_factory.mktemp("behaviour_only")
    config = _config(alone / "config.yaml", outside)
    run_snakemake(alone, "results/ingest/ratings.tsv", "results/behaviour/manova.tsv",
                  configfile=config)
    unchanged("behaviour-only target")
    ratings = read_tsv(alone / "results/ingest/ratings.tsv", dtype={"subject": str})
    assert EXCLUDED not in set(ratings.subject)
    # sub-01 ses-pre has two runs of 6 videos each.
    counts = ratings.groupby(["subject", "session"]).size()
    assert counts[(MULTI_RUN, "pre")] == 12 and (counts.drop((MULTI_RUN, "pre")) == 6).all()
    assert (NO_POST2, "post2") not in counts.index

    work = tmp_path_factory.mktemp("work")
    config = _config(work / "config.yaml", outside)
    # No job of the whole workflow writes under the inputs: every file it would make.
    summary = run_snakemake(work, "--summary", "--forceall", configfile=config).stdout
    made = [line.split("\t")[0] for line in summary.splitlines()[1:] if line.strip()]
    assert len(made) > 300
    assert not [f for f in made if not (work / f).resolve().is_relative_to(work.resolve())]

    # The whole workflow, killed once the first level is being written: a run failing
    # half-way, with finished, missing and half-written outputs.
    started = time.time()
    proc = subprocess.Popen(
        [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(work), "--cores",
         "2", "--configfile", str(config)], cwd=work,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = started + 600
    while time.time() < deadline and proc.poll() is None:
        if _rewritten_since(work / "results/first_level", "*_stat-effect_statmap.nii.gz",
                            started):
            break
        time.sleep(0.5)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    unchanged("run killed half-way")
    run_snakemake(work, "--unlock", configfile=config)  # a killed run leaves its lock

    # Resumed after a config edit: the half-written jobs are redone and the rest of the
    # workflow runs with the edited settings.
    run_snakemake(work, "--rerun-incomplete",
                  configfile=_config(config, outside, cluster_forming_p=0.02))
    unchanged("run resumed after a config edit")
    _check_results(work)
    rerun = run_snakemake(work, "--dry-run", configfile=config)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    print(f"whole workflow on the real layout (killed and resumed): "
          f"{time.time() - started:.0f} s")


def _rewritten_since(folder: Path, pattern: str, since: float) -> bool:
    """Whether a file matching ``pattern`` under ``folder`` changed after ``since`` (a
    running Snakemake may delete one between listing and reading it)."""
    for path in folder.rglob(pattern):
        try:
            if path.stat().st_mtime > since:
                return True
        except FileNotFoundError:
            continue
    return False


def _check_results(work: Path) -> None:
    results = work / "results"
    runs = read_tsv(results / "ingest/runs.tsv", dtype={"subject": str, "run": str})
    # 14 subjects, one excluded; sub-01 Pre has two runs; sub-05 has no Post2.
    assert len(runs) == 13 * 3 + 1 - 1
    assert set(runs.loc[runs.subject == MULTI_RUN, "run"].dropna()) == {"1", "2"}
    assert runs.bold.str.contains("_res-2_").all()
    assert runs.loc[runs.subject == UNCOMPRESSED, "bold"].str.endswith(".nii").all()
    assert runs.loc[runs.subject == OLD_FMRIPREP, "confounds"].str.contains(
        "desc-confounds_regressors").all()
    sidecar = json.loads((results / "first_level/sub-01/ses-pre/"
                          "sub-01_ses-pre_task-sovt_space-MNI152NLin2009cAsym_statmap.json").read_text())
    assert sidecar["Runs"] == ["sub-01_ses-pre_task-sovt_run-1", "sub-01_ses-pre_task-sovt_run-2"]
    assert "button_press" in sidecar["IgnoredTrialTypes"] and "fixation" in \
        sidecar["IgnoredTrialTypes"]
    assert sidecar["SliceTimeRef"] == 0
    timed = json.loads((results / f"first_level/sub-{SLICE_TIMED}/ses-post1/sub-{SLICE_TIMED}"
                        "_ses-post1_task-sovt_space-MNI152NLin2009cAsym_statmap.json").read_text())
    assert timed["SliceTimeRef"] == pytest.approx(0.95 / 2.0)
    design = read_tsv(results / "first_level/sub-01/ses-pre/sub-01_ses-pre_task-sovt_space-MNI152NLin2009cAsym_design.tsv")
    assert set(design["run"]) == {"sub-01_ses-pre_task-sovt_run-1", "sub-01_ses-pre_task-sovt_run-2"}
    group = json.loads((results / "second_level/empathyHELE/"
                        "task-sovt_space-MNI152NLin2009cAsym_desc-empathyHELE_statmap.json").read_text())
    assert group["DroppedMissingCovariate"] == [NA_COVARIATE] and group["N"] == 12
    assert group["DroppedMissingSession"] == []
    compassion = json.loads((results / "second_level/compassionHELE/"
                             "task-sovt_space-MNI152NLin2009cAsym_desc-compassionHELE_statmap.json").read_text())
    assert compassion["DroppedMissingSession"] == [NO_POST2] and compassion["N"] == 11
    bb = json.loads((results / "brain_behaviour/empathyRating/"
                     "task-sovt_space-MNI152NLin2009cAsym_desc-empathyRating_statmap.json").read_text())
    assert bb["DroppedMissingCovariate"] == [] and bb["N"] == 7  # no covariates: all affect
    excluded = read_tsv(results / "ingest/excluded_subjects.tsv", dtype={"subject": str})
    assert excluded.to_dict("records") == [{"subject": EXCLUDED, "reason": "withdrew consent"}]
    manova = read_tsv(results / "behaviour/manova.tsv")
    assert (manova["n"] == 11).all()  # listwise: complete covariates and all sessions
    links = [p for p in results.rglob("*") if p.is_symlink()]
    assert links == [], links[:3]
    assert (results / "report/findings.json").is_file()
