"""BIDS-derivative file names: entity order, one ``desc-``, and their parsing.

Group-level maps follow the statistical-derivative convention of FitLins and nilearn's
``save_glm_to_bids``: ``[sub-][ses-]task-<task>_space-<space>_contrast-<c>_stat-<s>``,
then the one ``desc-`` (BIDS puts ``desc`` last), then the suffix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from pathlib import Path

#: BIDS's entity order (the common derivative entities), with the statistical entities
#: ``contrast`` and ``stat`` where FitLins puts them: after ``space``, before ``desc``.
ENTITY_ORDER = ("sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "mod", "echo",
                "part", "space", "cohort", "res", "den", "label", "contrast", "stat", "desc")

#: Extensions that belong to the file name's suffix (``.nii.gz`` is one extension).
EXTENSIONS = (".nii.gz", ".nii", ".tsv", ".json", ".png", ".svg", ".pdf", ".html", ".log",
              ".txt", ".md")


def bids_name(entities: Mapping[str, str | None], suffix: str, extension: str = "") -> str:
    """A file name with ``entities`` in BIDS order (None values left out).

    Values may be Snakemake wildcards (``"{analysis}"``): they are kept as written.

    >>> bids_name({"desc": "delta1", "space": "MNI", "task": "sovt"}, "statmap", ".nii.gz")
    'task-sovt_space-MNI_desc-delta1_statmap.nii.gz'
    """
    unknown = set(entities) - set(ENTITY_ORDER)
    if unknown:
        raise ValueError(f"not a BIDS entity: {sorted(unknown)}")
    parts = [f"{key}-{entities[key]}" for key in ENTITY_ORDER
             if entities.get(key) is not None]
    return "_".join([*parts, suffix]) + extension


def split_extension(name: str) -> tuple[str, str]:
    """``("a_b", ".nii.gz")`` from ``"a_b.nii.gz"``; unknown extensions stay in the stem."""
    for ext in EXTENSIONS:
        if name.endswith(ext):
            return name[: -len(ext)], ext
    return name, ""


def entities_of(name: str) -> dict[str, str]:
    """The key-value entities of a file name (a path's name is taken), suffix left out.

    >>> entities_of("results/task-sovt_contrast-HE_stat-t_statmap.nii.gz")["contrast"]
    'HE'
    """
    stem, _ = split_extension(Path(name).name)
    return dict(part.split("-", 1) for part in stem.split("_")[:-1] if "-" in part)


def name_problems(name: str, require_entities: bool = False) -> list[str]:
    """What is wrong with a derivative file name: unknown or repeated entities, entities
    out of BIDS order, parts that are no entity. Free-form names (no entity at all,
    like ``clusters.tsv``) and names of entities alone (``sub-01_ses-pre.log``) are
    accepted unless ``require_entities`` (for images, which need entities and a suffix)."""
    stem, _ = split_extension(Path(name).name)
    *parts, suffix = stem.split("_")
    keys = [part.partition("-")[0] if "-" in part else None for part in parts]
    if not any(keys) and "-" not in suffix:
        return ["no BIDS entities"] if require_entities else []
    problems = []
    if "-" in suffix:
        if require_entities:
            problems.append(f"no suffix after the entities ({suffix!r})")
        # A table or log named by its run alone (sub-01_ses-pre.tsv): entities only.
        parts, keys = [*parts, suffix], [*keys, suffix.partition("-")[0]]
    if None in keys:
        problems.append("parts that are no key-value entity: "
                        + ", ".join(p for p, k in zip(parts, keys) if k is None))
    known = [k for k in keys if k is not None]
    unknown = [k for k in known if k not in ENTITY_ORDER]
    if unknown:
        problems.append(f"unknown entities {unknown}")
    repeated = sorted({k for k in known if known.count(k) > 1})
    if repeated:
        problems.append(f"repeated entities {repeated}")
    ranks = [ENTITY_ORDER.index(k) for k in known if k in ENTITY_ORDER]
    if ranks != sorted(ranks):
        problems.append("entities out of BIDS order")
    return problems


def derivative_path(prefix: str, suffix: str, extension: str = ".nii.gz",
                    **entities: str | None) -> str:
    """``prefix`` (a folder and the leading entities, e.g. ``.../task-sovt_space-MNI``)
    followed by ``entities`` in BIDS order and the suffix.

    >>> derivative_path("a/task-x", "statmap", stat="t", desc="{analysis}", contrast="c")
    'a/task-x_contrast-c_stat-t_desc-{analysis}_statmap.nii.gz'
    """
    return f"{prefix}_{bids_name(entities, suffix, extension)}"


def change_map_names(changes: Sequence[Mapping[str, Any]], conditions: Sequence[str]) -> list[str]:
    """The names of the simulator's planted change maps (``<change><condition>``; see
    :func:`ecgap.simulate_images.truth_images`)."""
    return [f"{change['name']}{c}" for change in changes for c in conditions]


def truth_names(changes: Sequence[Mapping[str, Any]], conditions: Sequence[str]) -> list[str]:
    """The names of the simulator's planted effect maps: task responses, then changes
    (here, not beside the simulator, so that the Snakefile's parse need not import it)."""
    return [f"task{c}" for c in conditions] + change_map_names(changes, conditions)
