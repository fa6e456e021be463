"""Where and when a measurement was made: machine, date and commit, for committed tables."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd


def machine() -> str:
    """Cores and memory of this machine."""
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{os.cpu_count()} cores, {mem_gb:.0f} GiB, {platform.processor() or platform.machine()}"


def commit() -> str:
    """The repository's short commit, with '+changes' when the work tree differs."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, text=True, capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def write_table(table: pd.DataFrame, path: str | Path, description: str) -> None:
    """A TSV whose leading '#' lines say what it is, on which machine, when, at which
    commit (read it back with ``pd.read_csv(path, sep='\\t', comment='#')``)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"# {description}\n# machine: {machine()}; date: {stamp}; "
              f"commit: {commit()}\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + table.to_csv(sep="\t", index=False, float_format="%.4g"))
