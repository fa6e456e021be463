"""SLURM resources per rule from Snakemake's own benchmark files.

``python -m ecgap.resources results/benchmarks`` prints a ``set-resources`` block for
``profiles/slurm``: per rule, memory = 1.5 x the largest peak RSS seen (rounded up to
100 MB, at least 500 MB) and runtime = 3 x the longest wall time (at least 5 min), so a
job is sized by what it used, with head room for a bigger study.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd


def benchmark_table(root: str | Path) -> pd.DataFrame:
    """One row per benchmark file: rule (its folder, or its stem at top level), job (the
    file's stem), s (wall), max_rss (MB), cpu_time (s) and mtime (when the job ended, epoch s)."""
    rows = []
    root = Path(root)
    for path in sorted(root.rglob("*.tsv")):
        rule = path.parent.name if path.parent != root else path.stem
        bench = pd.read_csv(path, sep="\t")
        rows.append({"rule": rule, "job": path.stem, "s": float(bench["s"].max()),
                     "max_rss": float(pd.to_numeric(bench["max_rss"], errors="coerce").max()),
                     "cpu_time": float(pd.to_numeric(bench["cpu_time"],
                                                     errors="coerce").max()),
                     "mtime": path.stat().st_mtime})
    return pd.DataFrame(rows, columns=["rule", "job", "s", "max_rss", "cpu_time", "mtime"])


def suggest(table: pd.DataFrame, mem_factor: float = 1.5, time_factor: float = 3.0) -> dict:
    """rule -> {mem_mb, runtime (minutes)} from the worst case of each rule."""
    out = {}
    for rule, rows in table.groupby("rule"):
        rss = 0.0 if rows["max_rss"].isna().all() else rows["max_rss"].max()
        out[rule] = {"mem_mb": max(500, int(math.ceil(mem_factor * rss / 100) * 100)),
                     "runtime": max(5, int(math.ceil(time_factor * rows["s"].max() / 60)))}
    return out


def as_yaml(resources: dict) -> str:
    lines = ["set-resources:"]
    lines += [f"  {rule}: {{mem_mb: {r['mem_mb']}, runtime: {r['runtime']}}}"
              for rule, r in sorted(resources.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", help="a results/benchmarks folder")
    args = parser.parse_args(argv)
    print(as_yaml(suggest(benchmark_table(args.benchmarks))), end="")


if __name__ == "__main__":
    main()
