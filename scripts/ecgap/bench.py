"""Benchmarks (``make bench``): measured rows for results/bench/summary.{tsv,md}.

Each measurement runs in its own process so that its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ecgap.io import write_text, write_tsv


def machine() -> str:
    """Cores and memory of this machine, for the table's header."""
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{os.cpu_count()} cores, {mem_gb:.0f} GiB, {platform.processor() or platform.machine()}"


def _group_data(n_subjects: int, seed: int = 0):
    """Smooth random subject maps on nilearn's 3 mm MNI brain mask (no download)."""
    from nilearn.datasets import load_mni152_brain_mask
    from scipy import ndimage

    mask_img = load_mni152_brain_mask(resolution=3)
    mask = np.asarray(mask_img.dataobj) > 0
    rng = np.random.default_rng(seed)
    maps = np.stack([ndimage.gaussian_filter(rng.normal(size=mask.shape), 1.5)[mask]
                     for _ in range(n_subjects)]).astype(np.float32)
    return maps, mask, mask_img, rng


def permutation_row(engine: str, n_subjects: int, n_perm: int, threads: int,
                    threshold_p: float) -> dict:
    """One engine's permutations per second on a two-sample design with covariates."""
    maps, mask, mask_img, rng = _group_data(n_subjects)
    group = np.r_[np.ones(n_subjects // 2), -np.ones(n_subjects - n_subjects // 2)] / 2
    confounds = np.c_[np.ones(n_subjects), rng.normal(size=(n_subjects, 2))]
    start = time.perf_counter()
    if engine == "nilearn":
        from nilearn.maskers import NiftiMasker
        from nilearn.mass_univariate import permuted_ols

        masker = NiftiMasker(mask_img).fit()
        permuted_ols(group, maps, confounding_vars=confounds, n_perm=n_perm,
                     two_sided_test=False, random_state=1, n_jobs=threads, masker=masker,
                     threshold=threshold_p, verbose=0)
    else:
        from ecgap.permutation import permuted_ols

        permuted_ols(group, maps, confounds, mask, n_perm, threshold_p, seed=1,
                     threads=threads, memory_mb=2000)
    seconds = time.perf_counter() - start
    return {"engine": engine, "subjects": n_subjects, "voxels": int(mask.sum()),
            "permutations": n_perm, "threads": threads, "seconds": round(seconds, 2),
            "permutations_per_s": round(n_perm / seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _in_subprocess(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "ecgap.bench", *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def permutation_engines(n_perm: int, nilearn_perm: int, threads: int) -> pd.DataFrame:
    """Both engines at 53 subjects, 3 mm MNI mask, p < .001 (DESIGN's paper scale)."""
    rows = [_in_subprocess("permutation", "--engine", engine, "--n-perm", str(count),
                           "--threads", str(threads))
            for engine, count in [("nilearn", nilearn_perm), ("ecgap", n_perm)]]
    table = pd.DataFrame(rows)
    table["speedup_vs_nilearn"] = (table["permutations_per_s"]
                                   / table.loc[0, "permutations_per_s"]).round(1)
    return table


def planning(config: Path, repeats: int = 3) -> pd.DataFrame:
    """`snakemake --dry-run` of ``config`` in an empty folder: median wall time of
    ``repeats`` runs (the DAG of a fresh study is the largest one to plan) and job count."""
    import re
    import tempfile

    repo = Path(__file__).resolve().parents[2]
    snakemake = Path(sys.executable).with_name("snakemake")
    times, jobs = [], None
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(repeats):
            start = time.perf_counter()
            out = subprocess.run([str(snakemake), "-s", str(repo / "Snakefile"), "-d", workdir,
                                  "--dry-run", "--configfile", str(config)],
                                 capture_output=True, text=True, check=True).stdout
            times.append(time.perf_counter() - start)
            jobs = int(re.search(r"^total\s+(\d+)", out, re.M).group(1))
    return pd.DataFrame([{"config": str(config), "jobs": jobs,
                          "median_s": round(float(np.median(times)), 2),
                          "runs": repeats, "target_s": 10}])


def write_summary(sections: dict[str, pd.DataFrame], out_dir: Path) -> None:
    """summary.tsv (long format: section, metric columns) and summary.md (one table each)."""
    long = pd.concat([t.assign(section=name) for name, t in sections.items()],
                     ignore_index=True)
    write_tsv(long[["section"] + [c for c in long.columns if c != "section"]],
              out_dir / "summary.tsv")
    parts = [f"# ecgap benchmarks\n\nMachine: {machine()}.\n"]
    for name, table in sections.items():
        parts.append(f"## {name}\n\n{table.to_markdown(index=False)}\n")
    write_text("\n".join(parts), out_dir / "summary.md")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("permutation", help="one engine, printed as JSON")
    one.add_argument("--engine", choices=["ecgap", "nilearn"], required=True)
    one.add_argument("--n-perm", type=int, default=5000)
    one.add_argument("--subjects", type=int, default=53)
    one.add_argument("--threads", type=int, default=1)
    one.add_argument("--threshold-p", type=float, default=0.001)
    everything = sub.add_parser("all", help="every benchmark, written to --out")
    everything.add_argument("--out", type=Path, default=Path("results/bench"))
    everything.add_argument("--n-perm", type=int, default=5000)
    everything.add_argument("--nilearn-perm", type=int, default=500,
                            help="nilearn's rate is measured on fewer permutations "
                                 "(it is constant per permutation)")
    everything.add_argument("--threads", type=int, default=1)
    everything.add_argument("--paper-config", type=Path, default=Path("config/paper.yaml"))
    args = parser.parse_args(argv)
    if args.command == "permutation":
        print(json.dumps(permutation_row(args.engine, args.subjects, args.n_perm,
                                         args.threads, args.threshold_p)))
        return
    sections = {"Permutation engines (53 maps, 3 mm MNI mask, p < .001, one-sided)":
                permutation_engines(args.n_perm, args.nilearn_perm, args.threads),
                "Planning (snakemake --dry-run, fresh folder)": planning(args.paper_config)}
    write_summary(sections, args.out)
    print((args.out / "summary.md").read_text())


if __name__ == "__main__":
    main()
