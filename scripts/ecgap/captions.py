"""Report text that Snakemake renders from the config, read lazily from result files.

Snakemake renders report captions (Jinja) with the rule's params and the config, not with
the content of its outputs. The objects here point at a file a rule writes and read it
only when a caption asks, which happens when the report is built, after the job ran.
Their repr is the path, and Snakemake ignores such objects when it checks params for
changes, so they never cause a rerun.

The config is pickled into *every* script job, and unpickling imports the module that
defines each object in it. This module therefore imports nothing but the standard
library: defined in ``ecgap.report`` (pandas, nibabel), these two objects added about
0.36 s to the start of each of the workflow's several hundred jobs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


class Findings(Mapping):
    """A JSON summary read lazily, key by key (for report captions)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def __repr__(self) -> str:
        return f"Findings({self.path!r})"

    def _data(self) -> dict[str, Any]:
        try:
            return json.loads(Path(self.path).read_text())
        except FileNotFoundError:
            return {}

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())


class MethodsText:
    """results/methods.md without its title, read when the report is rendered."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def __repr__(self) -> str:
        return f"MethodsText({self.path!r})"

    def __str__(self) -> str:
        try:
            text = Path(self.path).read_text()
        except FileNotFoundError:
            return "(results/methods.md is written by the workflow run)"
        return text.split("\n", 1)[1].strip() if text.startswith("# ") else text


def report_config(results: str) -> dict[str, Findings | MethodsText]:
    """The lazy objects the workflow adds to its config for the report's front page
    (``report/workflow.rst``): headline findings and the methods text."""
    return {"report_findings": Findings(f"{results}/report/findings.json"),
            "report_methods": MethodsText(f"{results}/methods.md")}
