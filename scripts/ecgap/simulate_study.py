"""Writing a whole simulated study in one process, outside the workflow.

The workflow simulates its default study rule by rule (``rules/simulate.smk``); tests and
benchmarks that need a BIDS + fMRIPrep dataset *made elsewhere*, as a user's data are,
call :func:`write_study`, which writes the same files with the same library functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import nibabel as nib
import numpy as np
import pandas as pd

from ecgap.bids import Layout, canonical_run_paths
from ecgap.design import Design
from ecgap.io import read_tsv, save_nifti, write_json, write_tsv
from ecgap.regions import simulation_grid
from ecgap.simulate_behaviour import BehaviourParams, study_from_config, write_behaviour_dataset
from ecgap.simulate_images import ImagingParams, simulate_run, subject_gains, task_regressors
from ecgap.task import n_volumes

#: Seconds of scanning after the last event of a simulated run.
LEAD_OUT_S = 16.0


def write_run(events: pd.DataFrame, gains: pd.Series, session_index: int, high_motion: bool,
              sim: Mapping[str, Any], task: str, subject: str,
              paths: Mapping[str, Path], design: Design,
              grid: Sequence[nib.Nifti1Image] | None = None,
              regressors: pd.DataFrame | None = None) -> None:
    """Simulate one run and write its fMRIPrep-style files.

    Parameters
    ----------
    events : pandas.DataFrame
        The run's events table (onset and duration in s).
    gains : pandas.Series
        The subject's planted imaging gains (a row of the truth's imaging_subjects.tsv).
    session_index : int
        Position of the session in study order (0 = Pre).
    high_motion : bool
        Whether the run is simulated with heavy head motion.
    sim : mapping
        The config's ``simulate`` section (imaging, grid_mm, tr, seed).
    task, subject : str
        BIDS task and subject labels (the subject label seeds the run).
    paths : mapping
        Target files: bold, bold_json, mask, confounds, confounds_json.
    design : ecgap.design.Design
        The study design (its conditions and nuisance trial types are modelled).
    grid : sequence of nibabel.Nifti1Image, optional
        The simulation grid (mask, grey matter, white matter) of ``sim["grid_mm"]``, as
        :func:`write_grid` stores it; computed here when not given.
    regressors : pandas.DataFrame, optional
        The run's task regressors, as :func:`run_regressors` reads them from the table
        :func:`study_regressors` makes; computed here when not given.
    """
    n_vols = n_volumes(events, sim["tr"], LEAD_OUT_S)
    index = int(subject) * 10 + session_index
    bold, mask, confounds, sidecar = simulate_run(
        events, gains, session_index, high_motion, ImagingParams(**sim["imaging"]),
        sim["grid_mm"], sim["tr"], n_vols, seed=[sim["seed"], 1, index], design=design,
        grid=grid, regressors=regressors)
    save_nifti(bold, paths["bold"], dtype=np.int16)  # fMRIPrep stores BOLD as int16 too
    save_nifti(mask, paths["mask"])
    write_json({"RepetitionTime": sim["tr"], "TaskName": task, "SkullStripped": False,
                "SliceTimingCorrected": False, "Description": "simulated by ecgap",
                "HighMotion": high_motion}, paths["bold_json"])
    write_tsv(confounds, paths["confounds"])
    write_json(sidecar, paths["confounds_json"])


def regressor_names(design: Design) -> list[str]:
    """The HRF-convolved task regressors of a simulated run (the design's conditions,
    then its nuisance trial types), the columns of :func:`study_regressors`' table."""
    return list(design.modelled_trial_types().values())


def study_regressors(events: Sequence[pd.DataFrame], runs: Sequence[tuple[str, str]],
                     tr: float, design: Design) -> pd.DataFrame:
    """Every simulated run's task regressors in one table (subject, session, volume and
    :func:`regressor_names`), from the runs' events tables in ``runs`` order.

    One job computes them for the whole study, so that the per-run simulation jobs do not
    import nilearn for its HRF convolution.
    """
    tables = []
    for (subject, session), table in zip(runs, events, strict=True):
        x = task_regressors(table, n_volumes(table, tr, LEAD_OUT_S), tr, design)
        tables.append(pd.DataFrame({"subject": subject, "session": session,
                                    "volume": np.arange(len(x)),
                                    **{k: x[k].to_numpy() for k in regressor_names(design)}}))
    return pd.concat(tables, ignore_index=True)


def read_regressors(path: str | Path) -> pd.DataFrame:
    """The table :func:`study_regressors` made, read back to the bit."""
    return read_tsv(path, dtype={"subject": str, "session": str}, float_precision="round_trip")


def run_regressors(table: pd.DataFrame, subject: str, session: str) -> pd.DataFrame:
    """One run's rows of the :func:`study_regressors` table (its regressor columns)."""
    rows = table[(table["subject"] == subject) & (table["session"] == session)]
    if rows.empty:
        raise ValueError(f"no task regressors for sub-{subject} ses-{session}")
    columns = [c for c in table.columns if c not in ("subject", "session", "volume")]
    return rows.sort_values("volume")[columns].reset_index(drop=True)


#: The images of the simulation grid, in the order :func:`simulation_grid` returns them.
GRID_IMAGES = ("mask", "gm", "wm")


def write_grid(grid_mm: float, paths: Mapping[str, Path]) -> None:
    """Store the simulation grid (brain mask, grey- and white-matter probability) at
    ``grid_mm`` in ``paths`` (keys :data:`GRID_IMAGES`); read back, it is the same to the
    bit (mask uint8, probabilities float32, integer-mm affine)."""
    for key, img in zip(GRID_IMAGES, simulation_grid(grid_mm)):
        save_nifti(img, paths[key])


def read_grid(paths: Mapping[str, Path]) -> list[nib.Nifti1Image]:
    """The grid :func:`write_grid` stored, in :data:`GRID_IMAGES` order."""
    return [nib.load(paths[key]) for key in GRID_IMAGES]


def write_study(config: Mapping[str, Any], bids_dir: Path, fmriprep_dir: Path,
                truth_dir: Path) -> list[str]:
    """Write the simulated study a validated config describes; return its subjects.

    The raw dataset goes to ``bids_dir``, the derivatives to ``fmriprep_dir`` and the
    planted truth to ``truth_dir``, with the file names the workflow's simulate rules use.
    """
    study = study_from_config(config)
    sim = config["simulate"]
    write_behaviour_dataset(study, BehaviourParams(**sim["behaviour"]), bids_dir,
                            fmriprep_dir, truth_dir, sim["imaging"]["link"])
    subjects = read_tsv(truth_dir / "subjects.tsv")
    gains = subject_gains(subjects, study.study, ImagingParams(**sim["imaging"]), sim["seed"])
    write_tsv(gains, truth_dir / "imaging_subjects.tsv")
    gains = gains.set_index("participant_id")
    runs = read_tsv(truth_dir / "runs.tsv", dtype={"subject": str, "session": str})
    layout = Layout(bids_dir, fmriprep_dir, study.task, config["data"]["space"])
    for run in runs.itertuples():
        paths = canonical_run_paths(layout, run.subject, run.session)
        write_run(read_tsv(paths["events"]), gains.loc[f"sub-{run.subject}"],
                  study.sessions.index(run.session), bool(run.high_motion), sim, study.task,
                  run.subject, paths, study.study)
    return study.subjects
