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
from typing import Any, Iterable

import pandas as pd

from ecgap.io import InputError

LABEL_RE = re.compile(r"^[a-zA-Z0-9]+$")
_ENTITY_RE = re.compile(r"^([a-zA-Z0-9]+)-([a-zA-Z0-9]+)$")

#: Columns of the run index, in order.
RUN_COLUMNS = [
    "subject", "session", "run", "events", "bold", "bold_json", "mask",
    "confounds", "confounds_json", "reported",
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


#: Image extensions accepted for preprocessed BOLD series and masks.
IMAGE_EXTENSIONS = (".nii.gz", ".nii")
#: Confounds suffixes: fMRIPrep 20.2 and later, and before 20.2.
CONFOUNDS_SUFFIXES = ("timeseries", "regressors")
#: At most this many layout problems are listed in one error.
MAX_PROBLEMS = 20


class LayoutError(InputError):
    """Every problem found in a study's layout, one ``file: problem`` line each."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS]
        lines = [f"{where}: {problem}" for where, problem in shown]
        if len(problems) > len(shown):
            lines.append(f"... and {len(problems) - len(shown)} more")
        if len(problems) == 1:
            super().__init__(*problems[0])
        else:
            super().__init__(f"{len(problems)} problems in the input layout",
                             "\n  " + "\n  ".join(lines))


def run_number(label: str | None) -> str | None:
    """A run label as a number without leading zeros: fMRIPrep 20.2 writes ``run-1``
    where the raw data say ``run-01`` (nipreps/fmriprep#2666)."""
    if label is None:
        return None
    return str(int(label)) if label.isdigit() else label


def run_id(subject: str, session: str | None, run: str | None, task: str) -> str:
    """The BIDS prefix that names one run's intermediate files, in BIDS entity order,
    e.g. ``sub-01_ses-pre_task-sovt`` or ``sub-01_ses-pre_task-sovt_run-2``."""
    return (f"sub-{subject}" + (f"_ses-{session}" if session else "") + f"_task-{task}"
            + (f"_run-{run}" if run else ""))


def _matches(ent: dict[str, str], want: dict[str, str | None]) -> bool:
    for key, value in want.items():
        have = ent.get(key)
        if key == "run":
            have = run_number(have)
        if key == "extension" and isinstance(value, tuple):
            if have not in value:
                return False
        elif have != value:
            return False
    return True


def _find_derivative(candidates: Iterable[Path], want: dict[str, Any], what: str,
                     where: Path, problems: list[tuple[str, str]],
                     resolution: str | None = None) -> Path | None:
    """The single derivative whose entities match ``want`` (None means must be absent).

    ``res-`` (and ``cohort-``) are only compared when the config chooses a resolution;
    several matches are a problem that lists what was found and the key that chooses.
    """
    want = {**want, **({"res": resolution} if resolution else {})}
    hits = [p for p in candidates if _matches(parse_entities(p), want)]
    if len(hits) > 1:
        found = sorted({parse_entities(p).get("res", "none") for p in hits})
        names = ", ".join(sorted(p.name for p in hits))
        if len(found) > 1:
            problems.append((str(where), f"{what} exists at several resolutions (res-"
                                         f"{', res-'.join(found)}: {names}); choose one "
                                         "with data.resolution"))
        else:
            problems.append((str(where), f"more than one {what} matches ({names}); "
                                         "remove the extra files or narrow data.space"))
        return None
    return hits[0] if hits else None


def _raw_events(layout: Layout) -> list[Path]:
    """Every events file of the task, with and without sessions. Explicit levels rather
    than ``**``, which does not descend into symlinked folders."""
    name = f"sub-*_task-{layout.task}_*events.tsv"
    return sorted([*layout.bids_dir.glob(f"sub-*/func/{name}"),
                   *layout.bids_dir.glob(f"sub-*/ses-*/func/{name}")])


def _spaces(files: Iterable[Path]) -> list[str]:
    return sorted({e["space"] for p in files if (e := parse_entities(p)).get("space")
                   and e.get("suffix") == "bold"})


def index_runs(layout: Layout, resolution: str | None = None,
               problems: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Index every run of ``layout.task``: raw events matched to fMRIPrep derivatives.

    Parameters
    ----------
    layout : Layout
        Where the raw data and derivatives are, and the task and space.
    resolution : str, optional
        The ``res-`` label to use when the derivatives hold several (``data.resolution``).
    problems : list, optional
        Collects ``(file, problem)`` for ambiguous derivatives; without it the first
        problem raises an InputError.

    Returns
    -------
    pandas.DataFrame
        One row per run (:data:`RUN_COLUMNS`). Runs are defined by the raw events files
        and matched to derivatives by subject, session, task and run *number*. Missing
        derivatives are left empty; :func:`check_complete` reports them.
    """
    if not layout.bids_dir.is_dir():
        raise InputError(layout.bids_dir, "BIDS directory not found (data.bids_dir)")
    collect = [] if problems is None else problems
    rows = []
    for events in _raw_events(layout):
        ent = parse_entities(events)
        if not ent or ent.get("task") != layout.task or ent["suffix"] != "events":
            continue
        subject = check_label(ent["sub"], events)
        session, run = ent.get("ses"), run_number(ent.get("run"))
        n_problems = len(collect)
        der_dir = layout.func_dir(layout.fmriprep_dir, subject, session)
        files = sorted(der_dir.glob(f"sub-{subject}_*")) if der_dir.is_dir() else []
        base = {"sub": subject, "ses": session, "task": layout.task, "run": run,
                "acq": ent.get("acq"), "echo": ent.get("echo")}
        image = {**base, "space": layout.space, "extension": IMAGE_EXTENSIONS}

        def find(want: dict[str, Any], what: str, res: str | None = resolution) -> Path | None:
            return _find_derivative(files, want, what, der_dir, collect, res)

        bold = find({**image, "desc": "preproc", "suffix": "bold"}, "preprocessed BOLD")
        spaces = _spaces(files)
        if bold is None and spaces and layout.space not in spaces:
            collect.append((str(der_dir), f"no preprocessed BOLD in space {layout.space!r} "
                                          f"(data.space); found spaces: {', '.join(spaces)}"))
        confounds = None
        for suffix in CONFOUNDS_SUFFIXES:
            confounds = confounds or find({**base, "desc": "confounds", "suffix": suffix,
                                           "extension": ".tsv"}, "confounds table", None)
        rows.append({
            "subject": subject, "session": session, "run": run, "events": events,
            "bold": bold, "bold_json": _sidecar(bold),
            "mask": find({**image, "desc": "brain", "suffix": "mask"}, "brain mask"),
            "confounds": confounds, "confounds_json": _sidecar(confounds),
            # Ambiguous or absent derivatives are reported here, not again as missing.
            "reported": len(collect) > n_problems,
        })
    if problems is None and collect:
        raise InputError(*collect[0])
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _sidecar(path: Path | None) -> Path | None:
    """The JSON sidecar beside an image or table."""
    if path is None:
        return None
    stem = path.name.split(".", 1)[0]
    return path.with_name(stem + ".json")


def check_complete(
    runs: pd.DataFrame,
    layout: Layout,
    subjects: Iterable[str],
    sessions: Iterable[str] | None,
    require: Iterable[str] = ("events", "bold", "mask", "confounds"),
    problems: list[tuple[str, str]] | None = None,
    missing_sessions: list[tuple[str, str]] | None = None,
) -> None:
    """Report every subject, session or file that is missing.

    With ``problems`` the ``(file, problem)`` pairs are appended to it; without it the
    first one raises an InputError. With ``missing_sessions`` a session without any
    events file is not a problem but a ``(subject, session)`` appended there.
    """
    collect = [] if problems is None else problems
    sessions = list(sessions) if sessions else [None]
    for subject in subjects:
        for session in sessions:
            sel = runs[(runs.subject == subject)
                       & (runs.session.fillna("") == (session or ""))]
            if sel.empty:
                if (missing_sessions is not None and session is not None
                        and not _has_bold(layout, subject, session)):
                    missing_sessions.append((subject, session))
                    continue
                expected = canonical_run_paths(layout, subject, session)["events"]
                what = f"session {session!r}" if session else f"task {layout.task!r} data"
                collect.append((str(expected), f"sub-{subject} has no {what}: "
                                               "events file not found"))
                continue
            for _, row in sel[~sel["reported"].astype(bool)].iterrows():
                for key in require:
                    if pd.isna(row[key]) or not Path(row[key]).is_file():
                        expected = canonical_run_paths(layout, subject, session)[key]
                        collect.append((str(expected), _missing(key, row, expected)))
    if problems is None and collect:
        raise InputError(*collect[0])


def _has_bold(layout: Layout, subject: str, session: str) -> bool:
    """Whether fMRIPrep has BOLD of the task for a session (its events must exist then)."""
    folder = layout.func_dir(layout.fmriprep_dir, subject, session)
    return any(folder.glob(f"sub-{subject}_*task-{layout.task}_*desc-preproc_bold.nii*"))


def _missing(key: str, row: Any, expected: Path) -> str:
    label = f"sub-{row['subject']}" + (f" ses-{row['session']}" if row["session"] else "")
    label += f" run-{row['run']}" if isinstance(row["run"], str) else ""
    return f"missing {key.replace('_', ' ')} file for {label} (looked in {expected.parent})"


def outputs_inside_inputs(patterns: Iterable[tuple[str, str]], inputs: Iterable[Path],
                          workdir: Path, results: str = "results") -> list[str]:
    """The problems that would let the workflow write into the user's input folders.

    Parameters
    ----------
    patterns : iterable of (rule, path pattern)
        Every file a rule writes (outputs, logs, benchmarks), relative to ``workdir``
        or absolute, with ``{wildcards}``.
    inputs : iterable of Path
        The input roots (``data.bids_dir``, ``data.fmriprep_dir``).
    workdir : Path
        The workflow's working directory.
    results : str
        The workflow's output folder, relative to ``workdir``.

    Returns
    -------
    list of str
        One line per problem: a pattern whose fixed part lies inside an input root
        (Snakemake deletes a job's outputs before it runs), or an input root inside the
        results folder (a wildcard pattern there could match it). Symlinks are resolved.
    """
    roots = [Path(workdir, root).resolve() for root in inputs]
    problems = []
    output_root = Path(workdir, results).resolve()
    for root in roots:
        if root.is_relative_to(output_root):
            problems.append(f"input folder {root} is inside the workflow's output folder "
                            f"{output_root}: copy the data elsewhere or run from another "
                            "working directory")
    for root in roots:
        inside = [f"{pattern} (rule {rule})" for rule, pattern in patterns
                  if Path(workdir, pattern.split("{", 1)[0]).resolve().is_relative_to(root)]
        if inside:
            problems.append(f"{len(inside)} workflow outputs, e.g. {inside[0]}, would be "
                            f"written inside the input folder {root}; run the workflow "
                            "from a working directory outside data.bids_dir and "
                            "data.fmriprep_dir")
    return problems


#: The files of one run that the workflow reads.
RUN_FILE_KEYS = ("events", "bold", "bold_json", "mask", "confounds", "confounds_json")


def study_runs(layout: Layout, subjects: Iterable[str], sessions: Iterable[str],
               resolution: str | None = None) -> dict[str, dict[str, Any]]:
    """Every run of the study's subjects and sessions, keyed by :func:`run_id`.

    Each value holds ``subject``, ``session``, ``run`` (number or None) and the run's
    files (:data:`RUN_FILE_KEYS`). A subject may lack whole sessions (no events file):
    it is kept for the change periods it has. Every other problem of the layout (a
    subject with no session at all, a session no subject has, missing files, ambiguous
    derivatives) is collected and raised at once as a LayoutError.
    """
    subjects, sessions, problems, absent = list(subjects), list(sessions), [], []
    runs = index_runs(layout, resolution, problems)
    check_complete(runs, layout, subjects, sessions, problems=problems,
                   missing_sessions=absent if sessions != [None] else None)
    for session in sessions:
        if subjects and sum(ses == session for _, ses in absent) == len(subjects):
            problems.append((str(layout.bids_dir), f"no subject has session {session!r}: "
                                                   "check design.sessions"))
    for subject in subjects:
        if sum(sub == subject for sub, _ in absent) == len(sessions):
            expected = canonical_run_paths(layout, subject, sessions[0])["events"]
            problems.append((str(expected), f"sub-{subject} has no {layout.task!r} events "
                                            "in any session"))
    if problems:
        raise LayoutError(problems)
    runs = runs[runs.subject.isin(subjects) & runs.session.isin(sessions)]
    return {run_id(r.subject, r.session, r.run, layout.task):
            {"subject": r.subject, "session": r.session, "run": r.run,
             **{key: Path(getattr(r, key)) for key in RUN_FILE_KEYS}}
            for r in runs.sort_values(["subject", "session", "run"]).itertuples()}


def missing_sessions(runs: dict[str, dict[str, Any]], subjects: Iterable[str],
                     sessions: Iterable[str]) -> list[tuple[str, str]]:
    """The (subject, session) pairs without any run."""
    have = {(r["subject"], r["session"]) for r in runs.values()}
    return [(s, ses) for s in subjects for ses in sessions if (s, ses) not in have]


def fmriprep_root(bids_dir: str | Path, fmriprep_dir: str | Path | None) -> Path:
    """The fMRIPrep derivatives folder: ``data.fmriprep_dir``, or by default
    ``<bids_dir>/derivatives/fmriprep`` (where fMRIPrep writes when asked to)."""
    if fmriprep_dir:
        return Path(fmriprep_dir)
    default = Path(bids_dir) / "derivatives" / "fmriprep"
    if not default.is_dir():
        raise InputError("config key data.fmriprep_dir", f"not set, and {default} does "
                                                         "not exist")
    return default


def check_exclusions(excluded: Iterable[str], subjects: Iterable[str]) -> None:
    """Every subject in ``data.exclude_subjects`` must be a participant."""
    unknown = sorted(set(excluded) - set(subjects))
    if unknown:
        raise InputError("config key data.exclude_subjects",
                         f"sub-{', sub-'.join(unknown)} not in participants.tsv")
