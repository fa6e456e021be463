"""Snapshots of the paper design's numbers, pinned before issue 22 moves the design out of
the code (see docs/dev/design-model-plan.md, commit 0).

Two snapshots, each a JSON file under ``tests/golden/``:

- ``paper_behaviour.json``: the behaviour of the simulated study of
  ``config/paper.yaml`` (seed 2014), analysed as the workflow does: every ingest and
  behaviour table and the paper comparison, plus the sha256 of every text file the
  simulator writes (events, participants, memory-task files, truth tables).
- ``tiny_run.json``: every table and image of a tiny workflow run
  (``tests/configs/tiny.yaml``), from the simulated BOLD to the conjunctions.

Tables are summarised per column (string columns by a digest, numeric columns by sum
and absolute sum) and images by dtype, shape, sum and absolute sum, so that a change in
any number shows while the goldens stay small. Regenerating them is a deliberate act,
reviewed like a change of results::

    .venv/bin/python tests/paper_golden.py [--tiny RUN_DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from ecgap.config import validate_config  # noqa: E402
from ecgap.power import study_tables  # noqa: E402

GOLDEN = REPO / "tests" / "golden"
PAPER_SEED = 2014
#: Files of a workflow run that are not results: timings, logs, the report's pages.
NOT_RESULTS = ("benchmarks/", "logs/", "report/", "figures/")


def paper_config() -> dict[str, Any]:
    """config/paper.yaml, validated (defaults filled)."""
    return validate_config(yaml.safe_load((REPO / "config/paper.yaml").read_text()),
                           REPO / "config/schema/config.schema.yaml")


def _digest(values: Any) -> str:
    return hashlib.sha256("\x1f".join(map(str, values)).encode()).hexdigest()[:16]


def table_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Shape, column names, and per column a digest (text) or sum and absolute sum."""
    table = table.reset_index(drop=True)
    columns = {}
    for name in table.columns:
        values = table[name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric:
            x = values.to_numpy(dtype=float)
            columns[str(name)] = [float(np.nansum(x)), float(np.nansum(np.abs(x))),
                                  int(np.isnan(x).sum())]
        else:
            columns[str(name)] = _digest(values.astype(str))
    return {"shape": list(table.shape), "columns": columns}


def image_summary(path: Path) -> dict[str, Any]:
    """dtype, shape, sum, absolute sum and NaN count of an image's data."""
    img = nib.load(path)
    x = np.asanyarray(img.dataobj)
    xf = x.astype(np.float64)
    return {"dtype": str(x.dtype), "shape": list(x.shape),
            "sum": float(np.nansum(xf)), "abs_sum": float(np.nansum(np.abs(xf))),
            "nan": int(np.isnan(xf).sum())}


def paper_behaviour() -> dict[str, Any]:
    """The paper preset's behavioural tables and simulated text files, summarised."""
    with tempfile.TemporaryDirectory() as tmp:
        tables = study_tables(paper_config(), PAPER_SEED, Path(tmp))
        root = Path(tmp) / f"seed-{PAPER_SEED}"
        files = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in sorted(root.rglob("*")) if p.is_file()}
    return {"tables": {name: table_summary(t) for name, t in tables.items()},
            "files": files}


def run_snapshot(run_dir: Path) -> dict[str, Any]:
    """Every results table and image of a workflow run in ``run_dir``, summarised."""
    results = run_dir / "results"
    snapshot: dict[str, Any] = {"tables": {}, "images": {}}
    for path in sorted(results.rglob("*")):
        rel = str(path.relative_to(results))
        if any(rel.startswith(p) or f"/{p}" in rel for p in NOT_RESULTS):
            continue
        if path.name.endswith(".tsv"):
            table = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["n/a"])
            snapshot["tables"][rel] = table_summary(table)
        elif path.name.endswith(".nii.gz"):
            snapshot["images"][rel] = image_summary(path)
    return snapshot


def _numbers_close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
    return a == b


def differences(expected: Any, actual: Any, rtol: float, atol: float = 1e-9,
                where: str = "") -> list[str]:
    """Where two snapshots differ (empty when they agree within tolerance)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{where}/{k}: missing" for k in expected if k not in actual]
        found += [f"{where}/{k}: unexpected" for k in actual if k not in expected]
        for key in expected.keys() & actual.keys():
            found += differences(expected[key], actual[key], rtol, atol, f"{where}/{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual))
                for d in differences(e, a, rtol, atol, f"{where}[{i}]")]
    return [] if _numbers_close(expected, actual, rtol, atol) else [
        f"{where}: expected {expected!r}, got {actual!r}"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", type=Path, help="a finished tiny workflow run to snapshot")
    args = parser.parse_args(argv)
    GOLDEN.mkdir(exist_ok=True)
    (GOLDEN / "paper_behaviour.json").write_text(json.dumps(paper_behaviour(), indent=0))
    if args.tiny:
        (GOLDEN / "tiny_run.json").write_text(json.dumps(run_snapshot(args.tiny), indent=0))


if __name__ == "__main__":
    main()
