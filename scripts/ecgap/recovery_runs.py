"""Truth recovery over seeds (``make recovery SEEDS=N``): detection, off-target rates, power.

Runs the workflow on the default simulated study (``config/config.yaml``: its subjects
and its planted effect sizes, not the tiny test preset's doubled ones) once per seed,
at a coarser grid (6 mm: about 6 min per seed on 2 cores; at 8 mm the 12 mm planted
blobs shrink to a few voxels and are missed) and 1000 permutations, up to the
truth-recovery tables. Writes ``docs/validation/recovery.tsv`` (its header gives the
seconds per seed; the per-job overhead of the ~400 jobs dominates, see issue 20):

- ``detection`` rows: per analysis, direction and planted region the analysis is
  expected to find, the share of seeds in which an FWE-significant voxel lies in the
  region's support;
- ``off_target`` rows: per analysis and direction, the share of seeds with an FWE
  cluster that has no voxel in the planted support (for analyses where nothing is
  planted, any cluster), and the mean precision;

and ``docs/validation/recovery_power.tsv``: per expected region, the mean group z at
its planted peak over seeds and, through a probit curve of detection on that z fitted
to all seeds, the detection rate predicted at this sample, at the paper's 25 + 28 and
the group sizes that detect it in 80 % of studies.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Mapping, NamedTuple

import nibabel as nib
import numpy as np
import pandas as pd
import statsmodels.api as sm
import yaml
from scipy.stats import norm

from ecgap.bench import REPO, snakemake, validated_config
from ecgap.config import design_from_config
from ecgap.io import read_tsv
from ecgap.names import entities_of
from ecgap.provenance import write_table
from ecgap.recovery import peak_z_table

#: The paper's sample (Klimecki et al., 2014): affect and memory group sizes.
PAPER_GROUPS = (25, 28)

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


def run_seed(seed: int, grid_mm: float, permutations: int, cache: Path, cores: int,
             config: dict) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(summary, per-region) recovery tables and wall seconds of one seed's run; the
    per-region table has the group z at each region's peak (``peak_z``).

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
    summary, per_region = (pd.read_csv(done / Path(t).name, sep="\t").assign(seed=seed)
                           for t in TARGETS)
    per_region = per_region.merge(kept_peak_z(done, config),
                                  on=["analysis", "contrast", "region"], how="left")
    return summary, per_region, float((done / "wall_s.txt").read_text())


def kept_peak_z(done: Path, config: dict) -> pd.DataFrame:
    """The group z at every planted region's peak, from the maps :func:`keep_maps` kept
    (``config``: the validated configuration of the runs)."""
    analyses = {a["name"]: a for a in config["second_level"]["analyses"]}
    design = design_from_config(config)
    maps = done / "maps"
    z_maps = {(entities_of(p)["desc"], entities_of(p)["contrast"]): str(p)
              for p in sorted(maps.glob("*_stat-z_*statmap.nii.gz"))}
    truth = {entities_of(p)["desc"]: nib.load(p)
             for p in maps.glob("space-*_stat-effect_*statmap.nii.gz")}
    core = nib.load(next(maps.glob("space-*_desc-regions_dseg.nii.gz")))
    regions = read_tsv(next(maps.glob("space-*_desc-regions_dseg.tsv")))
    return peak_z_table(z_maps, analyses, truth, core, regions, design,
                        config["simulate"]["imaging"]["changes"])


class DetectionCurve(NamedTuple):
    """P(a planted region is detected | its peak z) = Phi((z - threshold) / spread)."""

    threshold: float
    spread: float
    misclassified: float  #: share of the rows the step at the threshold gets wrong


def detection_threshold(peak_z: np.ndarray, detected: np.ndarray) -> tuple[float, float]:
    """The peak z that best separates detected from missed regions (fewest rows on the
    wrong side; the middle of the best cut points), and the share of rows it puts on
    the wrong side.

    The limit of :func:`detection_curve` when the seeds separate detected from missed
    rows perfectly.
    """
    z = np.sort(peak_z)
    cuts = np.concatenate([[z[0] - 1], (z[1:] + z[:-1]) / 2, [z[-1] + 1]])
    errors = np.array([np.sum((peak_z > c) != detected) for c in cuts])
    best = cuts[errors == errors.min()]
    return float((best.min() + best.max()) / 2), float(errors.min() / len(peak_z))


def effective_n(n_first: float, n_second: float) -> float:
    """The two-sample effective size n1 n2 / (n1 + n2): the noncentrality of a group
    difference grows with its square root."""
    return n_first * n_second / (n_first + n_second)


def detection_curve(peak_z: np.ndarray, detected: np.ndarray) -> DetectionCurve:
    """Probit fit of detection on the peak z: P(detected | z) = Phi((z - u) / spread).

    Detection is cluster-level, so the peak z predicts it only roughly (a small cluster
    at the brain's edge can be missed at a high peak). Where the seeds separate detected
    from missed rows perfectly, the curve is the step at :func:`detection_threshold`.
    """
    step, misclassified = detection_threshold(peak_z, detected)
    if misclassified == 0:
        return DetectionCurve(step, 0.0, 0.0)
    fit = sm.Probit(detected.astype(float), sm.add_constant(peak_z)).fit(disp=0)
    intercept, slope = fit.params
    if slope <= 0:  # detection does not rise with z: nothing to extrapolate with
        raise ValueError(f"detection does not increase with the peak z (slope {slope:.3g})")
    return DetectionCurve(-intercept / slope, 1 / slope, misclassified)


def power_table(regions: pd.DataFrame, groups: Mapping[str, int], power: float = 0.8,
                ) -> tuple[pd.DataFrame, DetectionCurve]:
    """Per expected (analysis, direction, region): detection rate, mean and sd of the
    peak z over seeds, the detection rate the curve predicts at this sample and at the
    paper's, and the group sizes (in this study's ratio) it predicts detect the region
    in ``power`` of studies; and the :func:`detection_curve` of all rows.

    The peak z over seeds is ~N(mu, 1) and mu grows with the square root of the
    effective n: scaling both groups by s gives mu sqrt(s), and detection
    Phi((mu sqrt(s) - u) / sqrt(1 + spread^2)).
    """
    expected = regions[regions["expected"].astype(bool)].dropna(subset=["peak_z"])
    curve = detection_curve(expected["peak_z"].to_numpy(),
                            expected["detected"].astype(bool).to_numpy())
    keys = ["analysis", "contrast", "region"]
    table = (expected.groupby(keys, sort=False)
             .agg(seeds=("detected", "size"), rate=("detected", "mean"),
                  mean_peak_z=("peak_z", "mean"), sd_peak_z=("peak_z", "std"))
             .reset_index())
    mu = table["mean_peak_z"].to_numpy()
    width = np.sqrt(1 + curve.spread ** 2)
    paper_scale = effective_n(*PAPER_GROUPS) / effective_n(*groups.values())
    table["predicted_rate"] = norm.sf((curve.threshold - mu) / width)
    table["predicted_rate_paper_n"] = norm.sf((curve.threshold - mu * np.sqrt(paper_scale))
                                              / width)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(mu > 0, ((curve.threshold + norm.ppf(power) * width) / mu) ** 2,
                         np.inf)
    for name, n in groups.items():
        table[f"n_{name}_for_power"] = np.where(np.isfinite(scale), np.ceil(n * scale), np.nan)
    return table, curve


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


def power_headline(power: pd.DataFrame, curve: DetectionCurve,
                   groups: Mapping[str, int]) -> str:
    """The detection curve and, per planted region, its best analysis' predicted sample."""
    best = power.loc[power.groupby("region", sort=False)["mean_peak_z"].idxmax()]
    names, sizes = list(groups), list(groups.values())
    return (f"P(detected | peak z) = Phi((z - {curve.threshold:.2f}) / {curve.spread:.2f}) "
            f"(probit fit to the seeds' detections of the expected regions; the step at "
            f"{curve.threshold:.2f} puts {curve.misclassified:.0%} of them on the wrong "
            f"side); per planted region, the analysis with the "
            f"highest mean peak z, its detection rate at {' + '.join(map(str, sizes))} "
            f"subjects (observed / predicted), predicted at the paper's {PAPER_GROUPS[0]} + "
            f"{PAPER_GROUPS[1]}, and the {' + '.join(names)} group sizes for 80 % detection: "
            + "; ".join(f"{r['region']} {r['analysis']} {r['rate']:.0%} / "
                        f"{r['predicted_rate']:.0%}, {r['predicted_rate_paper_n']:.0%}, "
                        + " + ".join(f"{r[f'n_{n}_for_power']:.0f}" for n in names)
                        for _, r in best.iterrows()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--grid-mm", type=float, default=6.0)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--cache", default="results/validation/recovery")
    parser.add_argument("--out", default="docs/validation/recovery.tsv")
    parser.add_argument("--power-out", default="docs/validation/recovery_power.tsv")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    config = validated_config(REPO / "config/config.yaml")
    design = design_from_config(config)
    # The power statement is for the primary contrast's two groups (the paper's pair).
    pair = (design.trained[0].name, design.control.name)
    groups = {name: config["simulate"]["group_sizes"][name] for name in pair}
    summaries, regions, walls = [], [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        summary, per_region, wall = run_seed(seed, args.grid_mm, args.permutations,
                                             Path(args.cache).resolve(), args.cores,
                                             config)
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
    power, curve = power_table(pd.concat(regions), groups)
    power_line = power_headline(power, curve, groups)
    write_table(power, args.power_out,
                f"Power of the truth recovery ({args.seeds} seeds of {args.out}): {power_line}")
    print(power_line)
    print(power.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
