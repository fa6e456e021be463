"""Indexing BIDS raw data and fMRIPrep derivatives by filename entities.

We parse BIDS entities out of file names with a regular expression and match raw
events files to their derivatives, instead of using pybids: a dataset of 53 subjects x
3 sessions is indexed in milliseconds, there is no SQL database to build or cache, and
extra entities that fMRIPrep adds (``res-2``, ``acq-``) are tolerated by matching on the
entities that matter rather than on whole file names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from ecgap.io import InputError

LABEL_RE = re.compile(r"^[a-zA-Z0-9]+$")
_ENTITY_RE = re.compile(r"^([a-zA-Z0-9]+)-([a-zA-Z0-9]+)$")

#: Columns of the run index, in order.
RUN_COLUMNS = [
    "subject", "session", "run", "events", "bold", "bold_json", "mask",
    "confounds", "confounds_json",
]


def check_label(label: object, where: str | Path, entity: str = "sub") -> str:
    """Return a plain BIDS label (prefix removed) or raise an InputError naming ``where``.

    BIDS labels are alphanumeric; anything else (``../x``, spaces, underscores) would
    break file names or escape the output folder.
    """
    text = str(label)
    if text.startswith(f"{entity}-"):
        text = text[len(entity) + 1:]
    if not LABEL_RE.match(text):
        raise InputError(
            where,
            f"{entity} label {str(label)!r} is not a plain BIDS label "
            "(letters and digits only)",
        )
    return text


def parse_entities(path: str | Path) -> dict[str, str]:
    """Parse ``sub-01_ses-pre_task-x_bold.nii.gz`` into entities plus suffix and extension.

    Returns an empty dict for names that are not BIDS-like.
    """
    name = Path(path).name
    stem, dot, ext = name.partition(".")
    parts = stem.split("_")
    if len(parts) < 2:
        return {}
    entities: dict[str, str] = {}
    for part in parts[:-1]:
        match = _ENTITY_RE.match(part)
        if not match:
            return {}
        entities[match.group(1)] = match.group(2)
    entities["suffix"] = parts[-1]
    entities["extension"] = dot + ext
    return entities


@dataclass(frozen=True)
class Layout:
    """Where a study's data live and which task/space to use."""

    bids_dir: Path
    fmriprep_dir: Path
    task: str
    space: str

    def func_dir(self, root: Path, subject: str, session: str | None) -> Path:
        path = root / f"sub-{subject}"
        if session:
            path = path / f"ses-{session}"
        return path / "func"

    def beh_file(self, subject: str, session: str | None, task: str) -> Path:
        """The memory-task scores file of one subject and session."""
        path = self.bids_dir / f"sub-{subject}"
        prefix = f"sub-{subject}"
        if session:
            path = path / f"ses-{session}"
            prefix += f"_ses-{session}"
        return path / "beh" / f"{prefix}_task-{task}_beh.tsv"


def canonical_run_paths(layout: Layout, subject: str, session: str | None) -> dict[str, Path]:
    """The file names fMRIPrep (and the simulator) give one run, without extra entities."""
    prefix = f"sub-{subject}" + (f"_ses-{session}" if session else "") + f"_task-{layout.task}"
    raw = layout.func_dir(layout.bids_dir, subject, session)
    der = layout.func_dir(layout.fmriprep_dir, subject, session)
    space = f"{prefix}_space-{layout.space}"
    return {
        "events": raw / f"{prefix}_events.tsv",
        "bold": der / f"{space}_desc-preproc_bold.nii.gz",
        "bold_json": der / f"{space}_desc-preproc_bold.json",
        "mask": der / f"{space}_desc-brain_mask.nii.gz",
        "confounds": der / f"{prefix}_desc-confounds_timeseries.tsv",
        "confounds_json": der / f"{prefix}_desc-confounds_timeseries.json",
    }


def _find_derivative(
    candidates: Iterable[Path], want: dict[str, str | None], what: str, where: Path
) -> Path | None:
    """The single derivative whose entities match ``want`` (None means must be absent)."""
    hits = []
    for path in candidates:
        ent = parse_entities(path)
        if all(ent.get(key) == value for key, value in want.items()):
            hits.append(path)
    if len(hits) > 1:
        names = ", ".join(sorted(p.name for p in hits))
        raise InputError(where, f"more than one {what} matches ({names}); "
                                "remove the extra files or narrow data.space")
    return hits[0] if hits else None


def index_runs(layout: Layout) -> pd.DataFrame:
    """Index every run of ``layout.task``: raw events matched to fMRIPrep derivatives.

    Runs are defined by the raw events files. Derivative paths that do not exist are
    left empty (NaN); :func:`check_complete` turns gaps into errors.
    """
    if not layout.bids_dir.is_dir():
        raise InputError(layout.bids_dir, "BIDS directory not found (data.bids_dir)")
    rows = []
    pattern = f"sub-*/**/func/sub-*_task-{layout.task}_*events.tsv"
    for events in sorted(layout.bids_dir.glob(pattern)):
        ent = parse_entities(events)
        if not ent or ent.get("task") != layout.task or ent["suffix"] != "events":
            continue
        subject = check_label(ent["sub"], events)
        session = ent.get("ses")
        run = ent.get("run")
        der_dir = layout.func_dir(layout.fmriprep_dir, subject, session)
        files = sorted(der_dir.glob(f"sub-{subject}*")) if der_dir.is_dir() else []
        base = {"sub": subject, "ses": session, "task": layout.task, "run": run,
                "acq": ent.get("acq"), "echo": ent.get("echo")}
        image = {**base, "space": layout.space}

        def find(want: dict[str, str | None], what: str) -> Path | None:
            return _find_derivative(files, want, what, der_dir)

        bold = find({**image, "desc": "preproc", "suffix": "bold", "extension": ".nii.gz"},
                    "preprocessed BOLD")
        rows.append({
            "subject": subject,
            "session": session,
            "run": run,
            "events": events,
            "bold": bold,
            "bold_json": bold.with_name(bold.name.replace(".nii.gz", ".json")) if bold else None,
            "mask": find({**image, "desc": "brain", "suffix": "mask",
                          "extension": ".nii.gz"}, "brain mask"),
            "confounds": find({**base, "desc": "confounds", "suffix": "timeseries",
                               "extension": ".tsv"}, "confounds table"),
            "confounds_json": find({**base, "desc": "confounds", "suffix": "timeseries",
                                    "extension": ".json"}, "confounds sidecar"),
        })
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def check_complete(
    runs: pd.DataFrame,
    layout: Layout,
    subjects: Iterable[str],
    sessions: Iterable[str] | None,
    require: Iterable[str] = ("events", "bold", "mask", "confounds"),
) -> None:
    """Raise an InputError for the first subject, session or file that is missing."""
    sessions = list(sessions) if sessions else [None]
    for subject in subjects:
        for session in sessions:
            sel = runs[(runs.subject == subject)
                       & (runs.session.fillna("") == (session or ""))]
            if sel.empty:
                expected = canonical_run_paths(layout, subject, session)["events"]
                what = f"session {session!r}" if session else f"task {layout.task!r} data"
                raise InputError(expected, f"sub-{subject} has no {what}: "
                                           "events file not found")
            for _, row in sel.iterrows():
                for key in require:
                    if pd.isna(row[key]) or not Path(row[key]).is_file():
                        expected = canonical_run_paths(layout, subject, session)[key]
                        raise InputError(
                            expected,
                            f"missing {key.replace('_', ' ')} file for sub-{subject}"
                            + (f" ses-{session}" if session else "")
                            + f" (looked in {expected.parent})",
                        )
