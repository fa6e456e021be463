"""Truth recovery over seeds (``make recovery SEEDS=N``): detection and off-target rates.

Runs the workflow on the default simulated study (``config/config.yaml``: its subjects
and its planted effect sizes, not the tiny test preset's doubled ones) once per seed,
at a coarser grid (6 mm: about 6 min per seed on 2 cores; at 8 mm the 12 mm planted
blobs shrink to a few voxels and are missed) and 1000 permutations, up to the
truth-recovery tables, and writes ``docs/validation/recovery.tsv`` (its header gives the seconds per seed; the
per-job overhead of the ~400 jobs dominates, see issue 20):

- ``detection`` rows: per analysis, direction and planted region the analysis is
  expected to find, the share of seeds in which an FWE-significant voxel lies in the
  region's support;
- ``off_target`` rows: per analysis and direction, the share of seeds with an FWE
  cluster that has no voxel in the planted support (for analyses where nothing is
  planted, any cluster), and the mean precision.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import pandas as pd
import yaml

from ecgap.bench import snakemake
from ecgap.provenance import write_table

TARGETS = ("results/second_level/truth_recovery.tsv",
           "results/second_level/truth_recovery_regions.tsv")


def seed_config(seed: int, grid_mm: float, permutations: int) -> dict:
    """The keys a recovery run changes on top of the default configuration."""
    return {"simulate": {"seed": seed, "grid_mm": grid_mm},
            "second_level": {"n_permutations": permutations}}


def keep_maps(workdir: Path, done: Path) -> None:
    """Keep what the power estimate reads: the unthresholded group z maps and the
    simulator's planted effect and region maps (a few MB at 6 mm)."""
    maps = done / "maps"
    maps.mkdir(exist_ok=True)
    for pattern in ("results/second_level/*/*_stat-z_*statmap.nii.gz",
                    "results/simulated/truth/space-*"):
        for path in workdir.glob(pattern):
            shutil.copy(path, maps / path.name)


def run_seed(seed: int, grid_mm: float, permutations: int, cache: Path,
             cores: int) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(summary, per-region) recovery tables and wall seconds of one seed's run.

    Each seed's tables are kept in ``cache`` (keyed by seed, grid and permutations), so
    an interrupted ``make recovery`` resumes and a larger SEEDS only runs the new seeds.
    """
    done = cache / f"seed-{seed}_grid-{grid_mm:g}_perm-{permutations}"
    if not (done / "wall_s.txt").exists():
        # an interrupted seed's run is resumed where it stopped
        workdir = cache / "work" / f"seed-{seed}_grid-{grid_mm:g}_perm-{permutations}"
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "recovery.yaml"
        config.write_text(yaml.safe_dump(seed_config(seed, grid_mm, permutations)))
        result = snakemake(workdir, config, "--rerun-incomplete", *TARGETS, cores=cores)
        done.mkdir(parents=True, exist_ok=True)
        for target in TARGETS:
            shutil.copy(workdir / target, done / Path(target).name)
        keep_maps(workdir, done)
        (done / "wall_s.txt").write_text(f"{result['wall_s']}\n")
        shutil.rmtree(workdir)
    tables = [pd.read_csv(done / Path(t).name, sep="\t").assign(seed=seed) for t in TARGETS]
    return tables[0], tables[1], float((done / "wall_s.txt").read_text())


def aggregate(summaries: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Detection rate per expected (analysis, direction, region); off-target rate and
    mean precision per (analysis, direction)."""
    keys = ["analysis", "delta", "first_level_contrast", "contrast"]
    expected = regions[regions["expected"].astype(bool)]
    detection = (expected.groupby(keys + ["region"], sort=False)["detected"]
                 .agg(seeds="size", hits="sum", rate="mean").reset_index()
                 .assign(kind="detection"))
    summaries = summaries.assign(off=summaries["off_target_clusters"] > 0)
    off = (summaries.groupby(keys, sort=False)
           .agg(seeds=("off", "size"), hits=("off", "sum"), rate=("off", "mean"),
                planted=("planted", "first"), mean_precision=("precision", "mean"))
           .reset_index().assign(kind="off_target", region=""))
    columns = ["kind", *keys, "region", "seeds", "hits", "rate", "planted", "mean_precision"]
    return pd.concat([detection, off], ignore_index=True).reindex(columns=columns)


def headline(table: pd.DataFrame) -> str:
    """The two targets in one line each."""
    detection = table[table["kind"] == "detection"]
    off = table[table["kind"] == "off_target"]
    best = detection.loc[detection.groupby("region", sort=False)["rate"].idxmax()]
    return (f"best detection rate per planted region: "
            + ", ".join(f"{r.region} {r.rate:.0%} ({r.analysis})" for r in best.itertuples())
            + f"; analysis-directions with an off-target cluster: "
              f"{off['hits'].sum()} of {off['seeds'].sum()} "
              f"({off['hits'].sum() / max(off['seeds'].sum(), 1):.1%})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--grid-mm", type=float, default=6.0)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--cache", default="results/validation/recovery")
    parser.add_argument("--out", default="docs/validation/recovery.tsv")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    summaries, regions, walls = [], [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        summary, per_region, wall = run_seed(seed, args.grid_mm, args.permutations,
                                             Path(args.cache).resolve(), args.cores)
        summaries.append(summary)
        regions.append(per_region)
        walls.append(wall)
        print(f"seed {seed}: {wall:.0f} s", flush=True)
    table = aggregate(pd.concat(summaries), pd.concat(regions))
    line = headline(table)
    description = (f"Truth recovery over {args.seeds} seeds (python -m ecgap.recovery_runs): "
                   f"config/config.yaml's simulated study and planted effects, "
                   f"{args.grid_mm:g} mm grid, {args.permutations} permutations, "
                   f"{sum(walls):.0f} s of runs ({min(walls):.0f}-{max(walls):.0f} s per "
                   f"seed; this call {time.perf_counter() - start:.0f} s). {line}")
    write_table(table, args.out, description)
    print(description)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
