"""Ingest: validate a study's BIDS data once and index it into tidy tables.

Each reader raises :class:`ecgap.io.InputError` naming the offending file and the
problem; nothing is written until every check has passed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Mapping

import nibabel as nib
import numpy as np
import pandas as pd

from ecgap.bids import Layout, check_label
from ecgap.io import InputError, read_json, read_tsv

logger = logging.getLogger(__name__)

EVENT_COLUMNS = ("onset", "duration", "trial_type")


def read_participants(path: Path, groups: Mapping[str, str],
                      covariates: Iterable[str] = ("age", "bdi")) -> pd.DataFrame:
    """participants.tsv with plain labels, known groups and complete covariates.

    ``groups`` maps the study's roles (affect, memory) to the labels used in the file's
    ``group`` column. Adds a ``subject`` column (label without ``sub-``) and ``role``.
    """
    table = read_tsv(path, dtype={"participant_id": str, "group": str})
    for column in ("participant_id", "group", *covariates):
        if column not in table.columns:
            raise InputError(path, f"required column {column!r} is missing "
                                   f"(columns: {', '.join(table.columns)})")
    dupes = table["participant_id"][table["participant_id"].duplicated()].unique()
    if len(dupes):
        raise InputError(path, f"duplicate participant_id: {', '.join(map(str, dupes))}")
    table["subject"] = [check_label(p, path) for p in table["participant_id"]]
    role_of = {label: role for role, label in groups.items()}
    unknown = sorted(set(table["group"].dropna()) - set(role_of))
    if unknown or table["group"].isna().any():
        bad = unknown or ["n/a"]
        raise InputError(path, f"group label(s) {', '.join(map(repr, bad))} not in the "
                               f"config's design.groups labels ({', '.join(map(repr, role_of))})")
    table["role"] = table["group"].map(role_of)
    for column in covariates:
        # n/a is allowed (that subject leaves the analyses adjusting for the covariate);
        # text that is not a number is an error.
        values = pd.to_numeric(table[column], errors="coerce")
        bad_rows = table.loc[values.isna() & table[column].notna(), "participant_id"].tolist()
        if bad_rows:
            raise InputError(path, f"column {column!r} is not numeric for "
                                   f"{', '.join(bad_rows)} (use n/a for a missing value)")
        table[column] = values
    return table


def read_events(path: Path, required_types: Iterable[str] = (),
                rating_columns: Iterable[str] = ()) -> pd.DataFrame:
    """An events table with numeric onsets, non-negative durations and the needed columns."""
    events = read_tsv(path)
    missing = [c for c in (*EVENT_COLUMNS, *rating_columns) if c not in events.columns]
    if missing:
        raise InputError(path, f"events table lacks required column(s) {', '.join(missing)}")
    for column in ("onset", "duration"):
        values = pd.to_numeric(events[column], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna())[0]) + 2  # 1-based, after the header
            raise InputError(path, f"{column} is missing or not a number on line {row}")
        events[column] = values
    negative = events["duration"] < 0
    if negative.any():
        row = int(np.flatnonzero(negative)[0]) + 2
        raise InputError(path, f"negative duration ({events['duration'][negative].iloc[0]}) "
                               f"on line {row}")
    if (events["onset"] < 0).any():
        raise InputError(path, "negative onset: onsets are seconds from the first volume")
    unlabelled = events["trial_type"].isna()
    if unlabelled.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(unlabelled)[:10])
        logger.info("%s: %d event(s) with trial_type n/a ignored (lines %s)", path,
                    int(unlabelled.sum()), rows)
        events = events[~unlabelled].reset_index(drop=True)
    absent = [t for t in required_types if t not in set(events["trial_type"])]
    if absent:
        raise InputError(path, f"no events of trial_type {', '.join(map(repr, absent))} "
                               "(see data.events in the config)")
    return events


def ratings_table(participants: pd.DataFrame, events_files: pd.DataFrame,
                  video_types: Mapping[str, str], ratings: Mapping[str, str],
                  session_order: list[str]) -> pd.DataFrame:
    """Long table of ratings: one row per subject, session and video.

    ``video_types`` maps HE/LE to the events' trial_type values; ``ratings`` maps the
    study's rating names to events columns.
    """
    frames = []
    by_type = {label: name for name, label in video_types.items()}
    for row in events_files.itertuples():
        events = read_events(Path(row.events), video_types.values(), ratings.values())
        videos = events[events["trial_type"].isin(by_type)].reset_index(drop=True)
        out = pd.DataFrame({
            "subject": row.subject,
            "session": row.session,
            "trial": np.arange(1, len(videos) + 1),
            "video_type": videos["trial_type"].map(by_type),
        })
        for name, column in ratings.items():
            out[name] = pd.to_numeric(videos[column], errors="coerce")
        frames.append(out)
    table = pd.concat(frames, ignore_index=True)
    table = table.merge(participants[["subject", "role"]], on="subject").rename(
        columns={"role": "group"})
    table["session"] = pd.Categorical(table["session"], session_order, ordered=True)
    table = table.sort_values(["subject", "session"], kind="stable").reset_index(drop=True)
    # A session with several runs numbers its videos across the runs, in run order.
    table["trial"] = table.groupby(["subject", "session"], observed=True).cumcount() + 1
    table["session"] = table["session"].astype(str)
    cols = ["subject", "group", "session", "trial", "video_type", *ratings]
    return table[cols]


def memory_table(layout: Layout, participants: pd.DataFrame, sessions: list[str],
                 task: str, columns: Iterable[str]) -> pd.DataFrame:
    """Memory-task scores per subject and session; subjects lacking a file are left out."""
    columns = list(columns)
    rows = []
    for subject, role in zip(participants["subject"], participants["role"]):
        for session in sessions:
            path = layout.beh_file(subject, session, task)
            if not path.is_file():
                continue
            scores = read_tsv(path)
            missing = [c for c in columns if c not in scores.columns]
            if missing:
                raise InputError(path, f"memory scores lack column(s) {', '.join(missing)}")
            if len(scores) != 1:
                raise InputError(path, f"expected one row of scores, found {len(scores)}")
            values = {c: pd.to_numeric(scores[c], errors="coerce").iloc[0] for c in columns}
            rows.append({"subject": subject, "group": role, "session": session, **values})
    return pd.DataFrame(rows, columns=["subject", "group", "session", *columns])


def check_run(files: Mapping[str, Path], expected_tr: float | None, tolerance: float,
              check_header_tr: bool, required_types: Iterable[str] = ()) -> dict[str, object]:
    """Validate one run's images, sidecar, confounds and events; return TR and size.

    The sidecar's RepetitionTime is authoritative (BIDS); the NIfTI header's pixdim[4]
    is checked too unless ``check_header_tr`` is off (some converters write 1.0).
    """
    bold_path, mask_path = Path(files["bold"]), Path(files["mask"])
    bold, mask = _load(bold_path), _load(mask_path)
    if bold.ndim != 4:
        raise InputError(bold_path, f"expected a 4D BOLD series, got shape {bold.shape}")
    n_vols = bold.shape[3]
    sidecar = read_json(files["bold_json"])
    tr = sidecar.get("RepetitionTime")
    if not isinstance(tr, (int, float)) or tr <= 0:
        raise InputError(files["bold_json"], "RepetitionTime is missing or not positive")
    if expected_tr is not None and abs(tr - expected_tr) > tolerance:
        raise InputError(files["bold_json"], f"RepetitionTime {tr} s disagrees with the "
                                             f"config's data.tr = {expected_tr} s")
    header_tr = float(bold.header.get_zooms()[3]) if len(bold.header.get_zooms()) > 3 else 0.0
    if check_header_tr and abs(header_tr - tr) > tolerance:
        raise InputError(bold_path, f"header TR (pixdim[4]) {header_tr} s disagrees with "
                                    f"RepetitionTime {tr} s in {Path(files['bold_json']).name}; "
                                    "set data.check_header_tr: false if the header is "
                                    "known to be wrong")
    if mask.shape != bold.shape[:3] or not np.allclose(mask.affine, bold.affine, atol=1e-3):
        raise InputError(mask_path, f"brain mask grid {mask.shape} does not match the BOLD "
                                    f"grid {bold.shape[:3]} of {bold_path.name} "
                                    "(shape or affine differ)")
    inside = np.asarray(mask.dataobj) > 0
    if not inside.any():
        raise InputError(mask_path, "brain mask is empty")
    n_bad = non_finite_voxels(bold, inside) if may_hold_non_finite(bold) else 0
    if n_bad:
        raise InputError(bold_path, f"{n_bad} voxel(s) inside the brain mask contain "
                                    "NaN or infinite values")
    confounds = read_tsv(files["confounds"])
    if len(confounds) != n_vols:
        raise InputError(files["confounds"], f"{len(confounds)} rows but the BOLD series "
                                             f"has {n_vols} volumes")
    events = read_events(Path(files["events"]), required_types)
    run_end = n_vols * tr
    late = events["onset"] > run_end
    if late.any():
        raise InputError(files["events"], f"event onset {events['onset'][late].iloc[0]} s "
                                          f"is after the end of the run ({run_end:.1f} s = "
                                          f"{n_vols} volumes x TR {tr} s)")
    return {"tr": float(tr), "slice_time_ref": slice_time_reference(sidecar, float(tr)),
            "n_volumes": int(n_vols), "n_voxels": int(inside.sum()),
            "grid": "x".join(str(s) for s in bold.shape[:3])}


def slice_time_reference(sidecar: Mapping[str, object], tr: float) -> float:
    """Where in each volume's acquisition the model samples, as a fraction of the TR.

    fMRIPrep's slice-timing correction shifts every slice to ``StartTime`` (the middle of
    the acquisition), which its BOLD sidecar records with ``SliceTimingCorrected: true``;
    nilearn's ``first_level_from_bids`` then sets ``slice_time_ref = StartTime / TR``, and
    so do we. Uncorrected data are modelled at the start of each volume (0).
    """
    start = sidecar.get("StartTime")
    if sidecar.get("SliceTimingCorrected") is True and isinstance(start, (int, float)):
        return float(min(max(start / tr, 0.0), 1.0))
    return 0.0


def may_hold_non_finite(img: nib.Nifti1Image) -> bool:
    """Whether the image's voxels can be NaN or infinite: stored as floating point, or
    scaled by a non-finite slope or intercept. An integer image cannot (fMRIPrep writes
    BOLD as int16), so its series need not be read to be checked (most of the time of a
    3 mm run's ingest job)."""
    stored = img.get_data_dtype()
    if not np.issubdtype(stored, np.integer):
        return True
    scaling = (getattr(img.dataobj, "slope", 1.0), getattr(img.dataobj, "inter", 0.0))
    return not np.isfinite(np.asarray(scaling, dtype=float)).all()


def non_finite_voxels(img: nib.Nifti1Image, inside: np.ndarray) -> int:
    """How many voxels inside the mask hold a NaN or infinite value at some volume."""
    data = np.asarray(img.dataobj)[inside]
    return int((~np.isfinite(data)).any(axis=1).sum())


def _load(path: Path) -> nib.Nifti1Image:
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return nib.load(str(path))
    except Exception as err:  # nibabel raises several types for unreadable files
        raise InputError(path, f"not a readable NIfTI image ({err})") from err


def behaviour_tables(
    bids_dir: Path, events: pd.DataFrame, subjects: list[str], sessions: list[str],
    groups: Mapping[str, str], covariates: list[str], conditions: Mapping[str, str],
    ratings: Mapping[str, str], memory: Mapping[str, object],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The participants, ratings and memory tables of a study.

    ``events`` lists the events file of every subject and session (columns subject,
    session, events); ``conditions`` maps the design's conditions to their trial_type
    values; ``memory`` holds the memory task label and score columns.
    """
    path = bids_dir / "participants.tsv"
    participants = read_participants(path, groups, covariates)
    unknown = sorted(set(subjects) - set(participants["subject"]))
    if unknown:
        raise InputError(path, f"no row for sub-{', sub-'.join(unknown)}")
    participants = participants[participants["subject"].isin(subjects)]
    rating_table = ratings_table(participants, events, conditions, ratings, sessions)
    layout = Layout(bids_dir, bids_dir, "", "")
    scores = memory_table(layout, participants, sessions, str(memory["task"]),
                          list(memory["scores"]))  # type: ignore[call-overload]
    columns = ["participant_id", "subject", "group", "role", *covariates]
    columns += [c for c in participants.columns if c not in columns]
    return participants[columns], rating_table, scores
