"""Where and when a measurement was made: machine, date and commit, for committed tables."""

from __future__ import annotations

import ast
import hashlib
import os
import platform
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import pandas as pd


def machine() -> str:
    """Cores and memory of this machine."""
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{os.cpu_count()} cores, {mem_gb:.0f} GiB, {platform.processor() or platform.machine()}"


def commit(root: str | Path | None = None, ignore: Sequence[str] = ()) -> str:
    """The repository's short commit, with '+changes' when the work tree differs.

    ``ignore`` lists paths (files or folders, relative to the repository) whose changes
    do not count: the benchmark tables that a benchmark run itself rewrites.
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parents[2]
    excluded = [f":(exclude){path}" for path in ignore]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no",
                                "--", ".", *excluded],
                               cwd=root, text=True, capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def library_modules(script: str | Path, package: str | Path | None = None) -> list[Path]:
    """The ecgap modules a rule's script runs: the package's ``__init__``, the modules the
    script imports and, in turn, theirs (imports inside functions and relative imports
    included).

    ``package`` is the ecgap folder whose modules count (by default this one).
    """
    package = _package_dir(package)
    found = {package / "__init__.py"}
    pending = [Path(script).resolve(), package / "__init__.py"]
    while pending:
        source = pending.pop()
        for path in _imported_modules(source, package, source.stat().st_mtime_ns):
            if path not in found:
                found.add(path)
                pending.append(path)
    return sorted(found)


@lru_cache(maxsize=None)
def _imported_modules(source: Path, package: Path, mtime_ns: int) -> tuple[Path, ...]:
    """The files of ``package`` that the imports of a Python file may load (``from ecgap
    import x`` may load the module ecgap.x). Cached per file version: the workflow asks
    for every rule at planning, and most rules share most modules."""
    candidates: list[Path] = []
    for node in ast.walk(ast.parse(source.read_bytes())):
        if isinstance(node, ast.Import):
            candidates += [package.parent.joinpath(*a.name.split(".")) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = source.parents[node.level - 1] if node.level else package.parent
            module = base.joinpath(*node.module.split(".")) if node.module else base
            candidates += [module, *(module / alias.name for alias in node.names)]
    files = [_module_file(c) for c in candidates]
    return tuple(f for f in files if f is not None and f.is_relative_to(package))


def _package_dir(package: str | Path | None) -> Path:
    return Path(package).resolve() if package is not None else Path(__file__).resolve().parent


def _module_file(base: Path) -> Path | None:
    """The file of the module or package at ``base`` (a path without suffix), if any."""
    for path in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def library_digest(script: str | Path, package: str | Path | None = None) -> str:
    """A digest of the source of the ecgap modules ``script`` runs (:func:`library_modules`).

    Snakemake reruns a job when its rule's script changes, and its output cache hashes
    that script, but neither looks at the modules the script imports: a rule carries this
    digest as a param so that a change to the library code it runs reruns it, and a
    cached result made by other code is not reused.
    """
    digest = hashlib.sha256()
    for path in library_modules(script, package):
        name = path.relative_to(_package_dir(package)).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def write_table(table: pd.DataFrame, path: str | Path, description: str) -> None:
    """A TSV whose leading '#' lines say what it is, on which machine, when, at which
    commit (read it back with ``pd.read_csv(path, sep='\\t', comment='#')``)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"# {description}\n# machine: {machine()}; date: {stamp}; "
              f"commit: {commit()}\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + table.to_csv(sep="\t", index=False, float_format="%.4g"))


#: The analysis packages whose versions the sidecars and the dataset description record.
RECORDED_PACKAGES = ("nilearn", "nibabel", "numpy", "scipy", "pandas", "statsmodels")


def software_versions(snakemake_version: str | None = None) -> dict[str, str]:
    """ecgap's version and those of the analysis packages the job's environment has.

    Under per-rule conda envs a job has only its own packages, so a sidecar records what
    its job ran with and leaves the others out. Snakemake runs in the main process, not
    in the job: its version comes from the rule's params when given.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    from ecgap import __version__

    found = {"ecgap": __version__}
    for package in RECORDED_PACKAGES:
        try:
            dist = distribution(package)
        except PackageNotFoundError:
            continue
        # Snakemake appends its own environment's site-packages to a conda job's path:
        # a package found only there is not the job's.
        if in_environment(Path(str(dist.locate_file("")))):
            found[package] = dist.version
    if snakemake_version:
        found["snakemake"] = snakemake_version
    return found


def in_environment(location: Path) -> bool:
    """Whether an installed package's ``location`` belongs to this interpreter's
    environment (its prefix, or the user's site-packages)."""
    import site
    import sys

    roots = [Path(sys.prefix), Path(site.getusersitepackages())]
    where = location.resolve()
    return any(where.is_relative_to(root.resolve()) for root in roots)


def versioned(version: str, at_commit: str) -> str:
    """PEP 440 version with the commit as local label: '0.2.0+gc7e40e5' ('.dirty' when
    the work tree had changes; the bare version when the commit is unknown)."""
    if at_commit == "unknown":
        return version
    head, _, changed = at_commit.partition("+")
    return f"{version}+g{head}" + (".dirty" if changed else "")


def dataset_description(ecgap_commit: str, sources: list[str], snakemake_version: str) -> dict:
    """results/dataset_description.json: a BIDS derivative dataset generated by ecgap
    (version and commit) with nilearn and Snakemake, from the datasets at ``sources``."""
    versions = software_versions(snakemake_version)
    return {
        "Name": "ecgap analysis of a longitudinal training fMRI study",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "GeneratedBy": [
            {"Name": "ecgap", "Version": versioned(versions["ecgap"], ecgap_commit),
             "Description": "Snakemake workflow: first- and second-level GLMs, permutation "
                            "inference, conjunctions, brain-behaviour analyses, RM-MANOVA"},
            {"Name": "nilearn", "Version": versions["nilearn"],
             "CodeURL": "https://github.com/nilearn/nilearn"},
            {"Name": "Snakemake", "Version": versions["snakemake"]},
        ],
        "SourceDatasets": [{"URL": Path(source).resolve().as_uri()} for source in sources],
        "License": "The source data's licence applies to these derivatives.",
    }
