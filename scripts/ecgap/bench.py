"""Benchmarks (``make bench``): measured rows for docs/benchmarks.md (and its tables in
docs/benchmarks/).

Sections: the paper-scale run (wall time and memory per stage and per rule from the
workflow's own benchmark files, disk), the partial rerun after one analysis' threshold is
edited, the first-level job against bare nilearn, the whole workflow against the naive
script (ecgap.baseline), where the group level spends its time, the permutation engines
and planning. Each engine measurement runs in its own process so that its peak memory
(ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

import yaml

from ecgap.bids import Layout, canonical_run_paths
from ecgap.captions import report_config
from ecgap.config import validate_config
from ecgap.design import Design
from ecgap.io import write_text, write_tsv
from ecgap.provenance import commit, machine
from ecgap.resources import benchmark_table
from ecgap.simulate_behaviour import study_from_config

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

#: Pipeline stages of the summary, by rule (benchmark folder) name; others are figures.
STAGES = {
    "simulate": ("simulate_behaviour", "simulate_truth", "simulate_regressors", "simulate_run"),
    "ingest": ("ingest_behaviour", "ingest_run", "ingest_runs"),
    "preprocess + QC": ("preprocess_run", "qc_runs"),
    "first level": ("first_level",),
    "group level": ("change_maps", "group_mask", "second_level", "conjunction",
                    "roi_values", "truth_recovery"),
    "brain-behaviour": ("brain_behaviour",),
    "behaviour": ("behaviour_sovt", "behaviour_memory", "behaviour_paper"),
}
PERMUTATION_RULES = ("second_level", "brain_behaviour")


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


SLURM_PROFILE = REPO / "profiles" / "slurm" / "config.v8+.yaml"


def planning(config: Path, repeats: int = 3) -> pd.DataFrame:
    """`snakemake --dry-run` of ``config`` in an empty folder: median wall time of
    ``repeats`` runs (the DAG of a fresh study is the largest one to plan), job count and
    the sbatch submissions of the same run through profiles/slurm."""
    times, out = [], ""
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(repeats):
            start = time.perf_counter()
            out = subprocess.run([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", workdir,
                                  "--dry-run", "--configfile", str(config)],
                                 capture_output=True, text=True, check=True).stdout
            times.append(time.perf_counter() - start)
    jobs = job_table(out)
    components = per_subject_components(validated_config(config))
    name = Path(config).resolve()
    return pd.DataFrame([{"config": str(name.relative_to(REPO) if name.is_relative_to(REPO)
                                        else name), "jobs": sum(jobs.values()),
                          "median_s": round(float(np.median(times)), 2),
                          "runs": repeats, "target_s": 10,
                          "slurm_submissions": slurm_submissions(jobs, components),
                          "target_submissions": 250}])


def validated_config(configfile: Path) -> dict:
    """The config a run with ``--configfile configfile`` sees: config/config.yaml updated
    with it (as Snakemake merges them), validated with defaults."""
    from snakemake.utils import update_config

    from ecgap.config import validate_config

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    update_config(config, yaml.safe_load(Path(configfile).read_text()))
    return validate_config(config, REPO / "config/schema/config.schema.yaml")


def job_table(dry_run: str) -> dict[str, int]:
    """Rule -> job count of a dry run's table (with its `all` job)."""
    table = re.search(r"job\s+count\n[-\s]+\n(.*?)\ntotal", dry_run, re.S).group(1)
    return {line.split()[0]: int(line.split()[1]) for line in table.splitlines()
            if line.strip()}


def slurm_submissions(jobs: dict[str, int], components: int,
                      profile: Path = SLURM_PROFILE) -> int:
    """sbatch jobs of a run through the SLURM ``profile``: one per job of an ungrouped
    rule, and for the grouped rules one per group-components connected components of
    their jobs (``components``, see :func:`per_subject_components`); the target-only
    `all` job runs locally."""
    settings = yaml.safe_load(profile.read_text())
    grouped = {entry.split("=")[0] for entry in settings.get("groups", [])}
    per_job = dict(entry.split("=") for entry in settings.get("group-components", []))
    components_per_job = int(per_job.get("subject", 1))
    ungrouped = sum(n for rule, n in jobs.items() if rule not in grouped | {"all"})
    has_grouped = any(rule in grouped for rule in jobs)
    return ungrouped + (-(-components // components_per_job) if has_grouped else 0)


def per_subject_components(config: dict) -> int:
    """Connected components of the per-run and change-map jobs of a simulated study: per
    included subject, its sessions as the change periods some analysis uses join them
    (both periods: one; delta1 only: Pre + Post1, and Post2 alone)."""
    data, design = config["data"], Design.of_study(config["design"])
    excluded = {e["subject"] for e in data["exclude_subjects"]}
    subjects = [s for s in study_from_config(config).subjects if s not in excluded]
    root = {session: session for session in design.sessions}

    def find(session: str) -> str:
        while root[session] != session:
            session = root[session]
        return session

    analyses = config["second_level"]["analyses"] + config["brain_behaviour"]["analyses"]
    for delta in {a["delta"] for a in analyses}:
        first, second = design.period_sessions(delta)
        root[find(first)] = find(second)
    return len(subjects) * len({find(session) for session in design.sessions})


def snakemake(workdir: Path, configfile: Path, *args: str, cores: int = 2) -> dict:
    """Run the workflow in ``workdir``; wall seconds and the largest process's peak RSS
    (Snakemake or any job; exact for the first run of this process, a lower bound after)."""
    start = time.perf_counter()
    proc = subprocess.run([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir),
                           "--cores", str(cores), *args, "--configfile", str(configfile)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake failed in {workdir}:\n{proc.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": round(seconds, 1), "largest_process_mb": round(peak),
            "log": proc.stdout + proc.stderr}


def disk_gb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2 ** 30, 2)


def stage_of(rule: str) -> str:
    return next((stage for stage, rules in STAGES.items() if rule in rules),
                "figures + report")


def job_summary(jobs: pd.DataFrame, by: str) -> pd.DataFrame:
    """Jobs, summed / median / longest wall time and largest peak RSS per ``by``."""
    table = jobs.groupby(by, sort=False).agg(
        jobs=("s", "size"), total_s=("s", "sum"), median_s=("s", "median"),
        max_s=("s", "max"), cpu_s=("cpu_time", "sum"), peak_rss_mb=("max_rss", "max"))
    share = (table["total_s"] / table["total_s"].sum()).round(3)
    return table.round(1).assign(share_of_job_time=share).reset_index()


def fresh_run(workdir: Path, configfile: Path, cores: int = 2) -> dict:
    """The whole workflow from an empty results folder; the record is kept in
    ``workdir/bench_run.json`` so that the run can be summarised again (--reuse)."""
    for stale in ("results", ".snakemake"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    run = snakemake(workdir, configfile, cores=cores)
    record = {"config": str(configfile), "cores": cores, "wall_s": run["wall_s"],
              "largest_process_mb": run["largest_process_mb"]}
    (workdir / "bench_run.json").write_text(json.dumps(record, indent=1))
    return record


def paper_scale(workdir: Path, configfile: Path, reuse: bool = False) -> dict[str, pd.DataFrame]:
    """Item 1 (whole run, per stage, per rule) and item 6 (permutation share) of a clean
    run of ``configfile``."""
    record = (json.loads((workdir / "bench_run.json").read_text()) if reuse
              else fresh_run(workdir, configfile))
    jobs = benchmark_table(workdir / "results" / "benchmarks")
    jobs["stage"] = jobs["rule"].map(stage_of)
    config = yaml.safe_load(Path(configfile).read_text())
    overall = pd.DataFrame([{
        "config": Path(configfile).name,
        "subjects": sum(validate_config(copy.deepcopy(config))["simulate"]["group_sizes"].values()),
        "grid_mm": config["simulate"]["grid_mm"], "jobs": len(jobs),
        "wall_s": record["wall_s"], "summed_job_s": round(jobs["s"].sum()),
        "largest_job_rss_mb": round(jobs["max_rss"].max()),
        "largest_process_mb": record["largest_process_mb"],
        "disk_results_gb": disk_gb(workdir / "results"),
        "disk_simulated_input_gb": disk_gb(workdir / "results" / "simulated")}])
    return {"overall": overall, "stages": job_summary(jobs, "stage"),
            "rules": job_summary(jobs, "rule"),
            "permutations": permutation_share(workdir, jobs, record["wall_s"])}


def demo_run(workdir: Path, configfile: Path = REPO / "config/config.yaml") -> pd.DataFrame:
    """Item 2: the demo (``make run``'s workflow call, its report left out) from a clean
    folder, with the summed job time and the rules that take most of it."""
    record = fresh_run(workdir, configfile)
    jobs = benchmark_table(workdir / "results" / "benchmarks")
    top = jobs.groupby("rule")["s"].sum().sort_values(ascending=False).head(4)
    return pd.DataFrame([{"config": Path(configfile).name, "jobs": len(jobs),
                          "wall_s": record["wall_s"], "summed_job_s": round(jobs["s"].sum()),
                          "largest_rules_s": ", ".join(f"{r} {v:.0f}" for r, v in top.items()),
                          "target_s": 480}])


def permutation_share(workdir: Path, jobs: pd.DataFrame, wall_s: float) -> pd.DataFrame:
    """Per group-level job: permutations run (two one-sided contrasts, each with its own
    permutations), permutations per second of the whole job (loading and writing maps
    included, so a lower bound on the engine), and the jobs' share of the run."""
    rows = []
    for job in jobs[jobs["rule"].isin(PERMUTATION_RULES)].itertuples():
        folder = "second_level" if job.rule == "second_level" else "brain_behaviour"
        sidecar = next((workdir / "results" / folder / job.job).glob("*_statmap.json"))
        n_perm = 2 * json.loads(sidecar.read_text())["Permutations"]
        rows.append({"rule": job.rule, "analysis": job.job, "permutations": n_perm,
                     "job_s": job.s, "permutations_per_s": round(n_perm / job.s, 1)})
    table = pd.DataFrame(rows)
    total = pd.DataFrame([{"rule": "all group-level jobs", "analysis": f"{len(table)} jobs",
                           "permutations": table["permutations"].sum(),
                           "job_s": round(table["job_s"].sum(), 1),
                           "permutations_per_s": round(table["permutations"].sum()
                                                       / table["job_s"].sum(), 1),
                           "share_of_job_time": round(table["job_s"].sum()
                                                      / jobs["s"].sum(), 3),
                           "share_of_wall_time_upper": round(
                               table["job_s"].sum() / wall_s, 3)}])
    return pd.concat([table, total], ignore_index=True)


def edited_threshold_config(configfile: Path, analysis: str, p: float, out: Path) -> Path:
    """``configfile`` with one group analysis' own cluster-forming threshold set to p."""
    config = yaml.safe_load(configfile.read_text())
    analyses = config.setdefault("second_level", {}).get("analyses")
    if analyses is None:  # the schema's default list
        from ecgap.config import load_schema
        schema = load_schema(REPO / "config/schema/config.schema.yaml")
        analyses = schema["properties"]["second_level"]["properties"]["analyses"]["default"]
    config["second_level"]["analyses"] = [
        {**a, "cluster_forming_p": p} if a["name"] == analysis else a for a in analyses]
    out.write_text(yaml.safe_dump(config))
    return out


def partial_rerun(workdir: Path, configfile: Path, full_wall_s: float,
                  analysis: str = "empathyHELE", p: float = 0.005,
                  repeats: int = 3) -> pd.DataFrame:
    """Item 4: bring a finished run up to date after one analysis' cluster-forming
    threshold is edited, median of ``repeats`` edits (to p, back to the config's own
    threshold, to p again: each edit reruns the same jobs). Compared with the analysis'
    own group-level job, with the summed time of every job the edit reran (from their
    benchmark files: what the edit costs without planning and scheduling) and with the
    full run."""
    edited = edited_threshold_config(configfile, analysis, p, workdir / "bench_edited.yaml")
    runs = pd.DataFrame([rerun_once(workdir, edited if i % 2 == 0 else configfile, analysis)
                         for i in range(repeats)])
    wall, own, summed = (float(runs[key].median())
                         for key in ("wall_s", "analysis_job_s", "rerun_jobs_summed_s"))
    return pd.DataFrame([{"edit": f"second_level.analyses[{analysis}].cluster_forming_p = {p}",
                          "runs": repeats,
                          "jobs_rerun": "/".join(str(n) for n in runs["jobs"]),
                          "rules": runs["rules"].iloc[0], "rerun_wall_s": round(wall, 1),
                          "analysis_job_s": round(own, 1),
                          "rerun_jobs_summed_s": round(summed, 1),
                          "ratio_to_analysis_job": round(wall / own, 2),
                          "ratio_to_rerun_jobs": round(wall / summed, 2),
                          "target_ratio": 1.2,
                          "ratio_to_full_run": round(wall / full_wall_s, 3)}])


def rerun_once(workdir: Path, configfile: Path, analysis: str) -> dict:
    """Bring ``workdir`` up to date with ``configfile``: wall seconds, the jobs that ran
    and the benchmark times of the analysis' group-level job and of all of them."""
    started = time.time()
    run = snakemake(workdir, configfile)
    # One "Finished jobid: N (Rule: name)" line per job (the profile hides the job details).
    jobs = re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)", run["log"], re.M)
    jobs = [job for job in jobs if job != "all"]
    rerun = rerun_jobs(workdir / "results/benchmarks", started)
    own = rerun[(rerun["rule"] == "second_level") & (rerun["job"] == analysis)]
    if own.empty:
        raise RuntimeError(f"editing {analysis}'s threshold did not rerun its group level")
    return {"wall_s": run["wall_s"], "jobs": len(jobs), "rules": ", ".join(sorted(set(jobs))),
            "analysis_job_s": float(own["s"].iloc[0]),
            "rerun_jobs_summed_s": float(rerun["s"].sum())}


def rerun_jobs(benchmarks: Path, since: float) -> pd.DataFrame:
    """The benchmark rows of the jobs that finished after ``since`` (epoch seconds)."""
    table = benchmark_table(benchmarks)
    return table[table["mtime"] >= since]


BARE_FIRST_LEVEL = """
import json, sys, time
start = time.perf_counter()
import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.glm.first_level import FirstLevelModel
bold, mask, events, confounds, out = sys.argv[1:6]
settings = json.loads(sys.argv[6])
stored = nib.load(bold)  # read as float32, as the workflow models a series
bold = nib.Nifti1Image(stored.get_fdata(dtype=np.float32), stored.affine)
names = settings["trial_types"]
events = pd.read_csv(events, sep="\\t")
events = events[events["trial_type"].isin(names)].assign(
    trial_type=lambda e: e["trial_type"].map(names))[["onset", "duration", "trial_type"]]
confounds = pd.read_csv(confounds, sep="\\t")
model = FirstLevelModel(mask_img=mask, minimize_memory=True, signal_scaling=0,
                        **settings["model"])
model.fit(bold, events=events, confounds=confounds)
for name, expression in settings["contrasts"].items():
    maps = model.compute_contrast(expression, output_type="all")
    for stat, key in (("effect", "effect_size"), ("variance", "effect_variance"),
                      ("z", "z_score")):
        maps[key].set_data_dtype("float32")  # as the workflow stores maps
        maps[key].to_filename(f"{out}_{name}_{stat}.nii.gz")
print(time.perf_counter() - start)
"""


def bare_first_level_command(workdir: Path, config: dict, subject: str, session: str,
                             out: str) -> list[str]:
    """The bare-nilearn script for one session of the simulated study run in
    ``workdir``, fitting the workflow's model: its modelled trial types (the others are
    the baseline), its confounds table (selected confounds and spike regressors), the
    sidecar's slice timing, the configured GLM and the design's contrasts. ``config`` is
    validated; maps go to ``<out>_<contrast>_<stat>.nii.gz``.

    Scope: the simulated study's layout (one run per session, the simulation's TR) and
    no parametric modulation."""
    from ecgap.first_level import NILEARN_DRIFT
    from ecgap.ingest import slice_time_reference

    design, glm = Design.of_study(config["design"]), config["first_level"]
    if glm["parametric_modulation"]:
        raise ValueError("the bare-nilearn first level has no parametric modulation")
    data, tr = config["data"], config["simulate"]["tr"]
    stem = f"sub-{subject}_ses-{session}_task-{data['task']}"
    func = (workdir / "results/simulated/derivatives/fmriprep" / f"sub-{subject}"
            / f"ses-{session}" / "func")
    bold = func / f"{stem}_space-{data['space']}_desc-preproc_bold.nii.gz"
    sidecar = json.loads(bold.with_name(bold.name.replace(".nii.gz", ".json")).read_text())
    settings = {"trial_types": design.modelled_trial_types(),
                "contrasts": design.first_level_contrasts(False),
                "model": {"t_r": tr, "slice_time_ref": slice_time_reference(sidecar, tr),
                          "hrf_model": glm["hrf_model"], "high_pass": glm["high_pass"],
                          "drift_model": NILEARN_DRIFT[glm["drift_model"]],
                          "noise_model": glm["noise_model"],
                          "smoothing_fwhm": glm["smoothing_fwhm"] or None}}
    return [sys.executable, "-c", BARE_FIRST_LEVEL, str(bold),
            str(func / f"{stem}_space-{data['space']}_desc-brain_mask.nii.gz"),
            str(workdir / "results/simulated/bids" / f"sub-{subject}" / f"ses-{session}"
                / "func" / f"{stem}_events.tsv"),
            str(workdir / "results/preprocess" / f"{stem}_desc-confounds_timeseries.tsv"),
            out, json.dumps(settings)]


#: The linear-algebra thread limits Snakemake sets for a job of ``threads: 1``.
ONE_THREAD = {**os.environ, **{name: "1" for name in (
    "OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}}


def first_level_overhead(workdir: Path, configfile: Path, subject: str = "01",
                         session: str | None = None, repeats: int = 3) -> pd.DataFrame:
    """Item 2: the workflow's first_level job (its benchmark file: script start-up,
    validation, fit, contrasts, maps, design table and figure, sidecar) against bare
    nilearn (a fresh Python process: imports, FirstLevelModel.fit of the same model on
    the same run, the same contrasts written as maps: ``bare_first_level_command``), one
    process each."""
    config = validate_config(yaml.safe_load(configfile.read_text()))
    design = Design.of_study(config["design"])
    contrasts = design.first_level_contrasts(False)
    session = session or design.sessions[0]
    stem = f"sub-{subject}_ses-{session}_task-{config['data']['task']}"
    target = (f"results/first_level/sub-{subject}/ses-{session}/{stem}_space-"
              f"{config['data']['space']}_contrast-{next(iter(contrasts))}"
              "_stat-effect_statmap.nii.gz")
    bench = workdir / f"results/benchmarks/first_level/sub-{subject}_ses-{session}.tsv"
    workflow, bare = [], []
    with tempfile.TemporaryDirectory() as scratch:
        command = bare_first_level_command(workdir, config, subject, session,
                                           f"{scratch}/bare")
        for _ in range(repeats):
            # The target first: --forcerun takes every rule name that follows it.
            # --rerun-triggers mtime: only the forced job, whatever else changed since.
            snakemake(workdir, configfile, target, "--rerun-triggers", "mtime",
                      "--forcerun", "first_level", cores=1)
            workflow.append(float(pd.read_csv(bench, sep="\t")["s"].iloc[-1]))
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=ONE_THREAD)
            bare.append(time.perf_counter() - start)
    median_workflow, median_bare = float(np.median(workflow)), float(np.median(bare))
    return pd.DataFrame([{"run": f"sub-{subject} ses-{session}", "repeats": repeats,
                          "workflow_job_s": round(median_workflow, 2),
                          "bare_nilearn_s": round(median_bare, 2),
                          "ratio": round(median_workflow / median_bare, 3),
                          "target_ratio": 1.15}])


#: What Snakemake's preamble does in every script job before the script runs: import its
#: logger and the class of the unpickled ``snakemake`` object, and unpickle the objects
#: the workflow puts in the config (their modules are imported then).
SCRIPT_PREAMBLE = ("import pickle\nfrom snakemake.logging import logger\n"
                   "from snakemake.iocontainers import Snakemake\n"
                   f"pickle.loads({pickle.dumps(report_config('results'))!r})\n")


def rule_bodies() -> dict[str, str]:
    """Rule name -> the text of its body, from the Snakefile and every rules/*.smk."""
    bodies = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        for match in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", path.read_text(),
                                 re.M):
            bodies[match.group(1)] = match.group(2)
    return bodies


def rule_directive(body: str, name: str) -> str | None:
    """The quoted value of a rule's ``name:`` directive (script, conda), or None."""
    match = re.search(rf"^    {name}:\s*\n?\s*\"([^\"]+)\"", body, re.M)
    return match.group(1) if match else None


def rule_scripts() -> dict[str, Path]:
    """Rule name -> its script, from the rules' ``script:`` directives."""
    return {rule: (REPO / "rules" / script).resolve() for rule, body in rule_bodies().items()
            if (script := rule_directive(body, "script"))}


def script_prologue(script: Path) -> str:
    """What a rule script runs before its work, as code: its module-level imports and its
    calls into ``gc`` (the collector is paused while the imports load)."""
    import ast

    def runs_before_work(node: ast.stmt) -> bool:
        return (isinstance(node, (ast.Import, ast.ImportFrom))
                or isinstance(node, ast.Expr) and ast.unparse(node).startswith("gc."))

    tree = ast.parse(script.read_text())
    return "\n".join(ast.unparse(node) for node in tree.body if runs_before_work(node))


def job_overhead(repeats: int = 3) -> pd.DataFrame:
    """Issue 20 item 3: the fixed cost of one job of each rule, measured as an empty-work
    job: a fresh Python process that does what the job does before its work (Snakemake's
    preamble and the script's prologue), median wall seconds of ``repeats``."""
    rows = []
    for rule, script in rule_scripts().items():
        code = SCRIPT_PREAMBLE + script_prologue(script)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO / "scripts",
                           env={**ONE_THREAD, "PYTHONPATH": str(REPO / "scripts")},
                           capture_output=True)
            times.append(time.perf_counter() - start)
        rows.append({"rule": rule, "fixed_s": round(float(np.median(times)), 2),
                     "target_s": 1.0})
    return pd.DataFrame(rows).sort_values("fixed_s", ascending=False, ignore_index=True)


def demo_config(n_perm: int, out: Path, data: dict | None = None,
                base: Path = REPO / "config/config.yaml") -> Path:
    """The ``base`` config (the demo's by default) with ``n_perm`` permutations (and
    ``data`` settings), validated (defaults filled) so that the naive script sees exactly
    the workflow's settings."""
    from ecgap.config import validate_config

    config = yaml.safe_load(Path(base).read_text())
    config.setdefault("second_level", {})["n_permutations"] = n_perm
    config["data"].update(data or {})
    validate_config(config, REPO / "config/schema/config.schema.yaml")
    out.write_text(yaml.safe_dump(config))
    return out


def simulation_targets(config: dict) -> list[str]:
    """Every file of the simulated BIDS + fMRIPrep dataset of a validated ``config``,
    relative to the working directory, named as the simulate rules name them."""
    data = config["data"]
    root = Path("results/simulated")
    layout = Layout(root / "bids", root / "derivatives/fmriprep", data["task"], data["space"])
    study = study_from_config(config)
    runs = [str(path) for subject in study.subjects for session in study.sessions
            for path in canonical_run_paths(layout, subject, session).values()]
    return [str(root / "bids/participants.tsv"), str(root / "bids/dataset_description.json"),
            str(root / "derivatives/fmriprep/dataset_description.json"), *runs]


def simulate(workdir: Path, configfile: Path) -> dict:
    """Simulate the study of ``configfile`` in ``workdir`` and nothing else. The files are
    named as targets: ``--until simulate_run ...`` stops early with Snakemake 9's "Out of
    jobs ready to be started" (snakemake issue 823)."""
    config = yaml.safe_load(Path(configfile).read_text())
    return snakemake(workdir, configfile, *simulation_targets(config))


def naive_comparison(scratch: Path, n_perm: int,
                     base: Path = REPO / "config/config.yaml") -> pd.DataFrame:
    """Item 5 on the study of ``base`` (the demo's by default): its data are simulated
    first (not timed), then read as BIDS + fMRIPrep by the workflow and by the naive
    script (ecgap.baseline), side by side on the same machine. Both compute the same
    thing: every first level, the change maps and every group and brain-behaviour
    analysis to its maps and cluster table. The workflow runs to those tables (2 cores,
    empty results folder; its figures and report are left out, as the script has none);
    the script runs once with nilearn's permutations and once with ecgap's (n_jobs=2)."""
    scratch.mkdir(parents=True, exist_ok=True)
    simulation = scratch / "simulation"
    simulate(simulation, demo_config(n_perm, scratch / "simulate.yaml", base=base))
    data_root = simulation / "results" / "simulated"
    configfile = demo_config(n_perm, scratch / "demo.yaml", {
        "source": "bids", "bids_dir": str(data_root / "bids"),
        "fmriprep_dir": str(data_root / "derivatives" / "fmriprep")}, base=base)
    config = yaml.safe_load(configfile.read_text())
    targets = ([f"results/second_level/{a['name']}/clusters.tsv"
                for a in config["second_level"]["analyses"]]
               + [f"results/brain_behaviour/{b['name']}/clusters.tsv"
                  for b in config["brain_behaviour"]["analyses"]])
    workdir = scratch / "workflow"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    workflow_s = snakemake(workdir, configfile, *targets)["wall_s"]
    sim = config["simulate"]
    sizes = validate_config(copy.deepcopy(config))["simulate"]["group_sizes"]
    study = (f"{Path(base).name}: {' + '.join(map(str, sizes.values()))} subjects, "
             f"{sim['grid_mm']} mm, {len(targets)} analyses")
    rows = []
    for engine, target in (("nilearn", 0.5), ("ecgap", 1.1)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ecgap.baseline", "--root", str(data_root),
                        "--config", str(configfile), "--out", str(scratch / f"naive-{engine}"),
                        "--engine", engine, "--n-jobs", "2"], check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(REPO / "scripts")})
        naive_s = time.perf_counter() - start
        rows.append({"study": study, "permutations": n_perm, "naive_engine": engine,
                     "workflow_wall_s": workflow_s, "naive_script_s": round(naive_s, 1),
                     "ratio": round(workflow_s / naive_s, 3), "target_ratio": target})
    return pd.DataFrame(rows)


def write_summary(sections: dict[str, pd.DataFrame], out_dir: Path,
                  markdown: Path | None = None) -> None:
    """Each section as ``out_dir/sections/NN_<slug>.tsv``, stamped with the date and
    commit it was measured at (a section measured again replaces its file, the others
    are kept), then ``out_dir/summary.tsv`` (long format: section, metric columns) and
    the markdown summary (``markdown``, by default ``out_dir/summary.md``; one table
    each, under the machine) from every section file there."""
    folder = out_dir / "sections"
    speed = machine_speed() if sections else None  # right after the measurement
    for name, table in sections.items():
        write_tsv(table.assign(section=name, measured=measured_at(), reference_s=speed),
                  folder / f"{section_slug(name)}.tsv")
    tables = [pd.read_csv(path, sep="\t") for path in sorted(folder.glob("*.tsv"))]
    long = pd.concat(tables, ignore_index=True)
    write_tsv(long[["section"] + [c for c in long.columns if c != "section"]],
              out_dir / "summary.tsv")
    parts = [f"# ecgap benchmarks\n\nWritten by `make bench` (`python -m ecgap.bench`); each "
             f"section says when and at which commit it was measured. Machine: {machine()}. "
             "`reference_s` is the median time of a fixed single-core workload (Python, "
             "zlib, numpy) on the machine when the section was measured: the same commit "
             "on a machine with a larger `reference_s` takes longer in proportion.\n"]
    for table in tables:
        name = table.pop("section").iloc[0]
        parts.append(f"## {name}\n\n{table.dropna(axis=1, how='all').to_markdown(index=False)}\n")
    write_text("\n".join(parts), markdown or out_dir / "summary.md")


def reference_workload() -> None:
    """A fixed single-core workload of the kinds a job does: interpreted Python, zlib
    (the compressed NIfTI files) and numpy arithmetic."""
    total = 0
    for i in range(2_000_000):
        total += i % 7
    values = np.random.default_rng(0).normal(size=2_000_000)
    zlib.compress((values * 100).astype(np.int16).tobytes(), 1)
    np.sort(values).cumsum().std()


def machine_speed(repeats: int = 5) -> float:
    """Median seconds of :func:`reference_workload` (about 2 s in all), taken again for
    each section written: a shared machine's speed drifts within one bench run."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        reference_workload()
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)), 3)


#: What a benchmark run rewrites: their changes are not changes to the measured code.
BENCH_OUTPUTS = ("docs/benchmarks.md", "docs/benchmarks")


@lru_cache(maxsize=1)
def measured_at() -> str:
    """Today and the commit, taken once per process: the sections a run writes are tracked
    files, so the work tree is no longer clean after the first."""
    return (f"{datetime.now(timezone.utc):%Y-%m-%d}, commit "
            f"{commit(ignore=BENCH_OUTPUTS)}")


def section_slug(name: str) -> str:
    """File stem of a section: its place in the summary, then its title in lower case."""
    titles = list(TITLES.values())
    order = titles.index(name) if name in titles else len(titles)
    words = "".join(c if c.isalnum() else " " for c in name.lower()).split()
    return f"{order:02d}_" + "-".join(words)[:60]


#: The summary's sections, in the order it lists them.
TITLES = {
    "overall": "Paper-scale run",
    "stages": "Paper-scale run, per stage",
    "rules": "Paper-scale run, per rule",
    "permutations": "Group level: permutation jobs",
    "rerun": "Partial rerun after one threshold edit (paper scale)",
    "first-level": "First-level job against bare nilearn (paper scale, median of 3)",
    "demo": "Demo (make run's workflow, config/config.yaml, clean folder)",
    "naive": "Workflow against the naive script (same computation, to the cluster tables)",
    "engines": "Permutation engines (53 maps, 3 mm MNI mask, p < .001, one-sided)",
    "planning": "Planning (snakemake --dry-run, fresh folder)",
    "overhead": "Fixed cost per job (Snakemake's preamble and the script's imports)",
}


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
    everything.add_argument("--out", type=Path, default=REPO / "docs/benchmarks",
                            help="the section tables and summary.tsv")
    everything.add_argument("--markdown", type=Path, default=REPO / "docs/benchmarks.md",
                            help="the summary of every section measured so far")
    everything.add_argument("--n-perm", type=int, default=5000)
    everything.add_argument("--nilearn-perm", type=int, default=500,
                            help="nilearn's rate is measured on fewer permutations "
                                 "(it is constant per permutation)")
    everything.add_argument("--threads", type=int, default=1)
    everything.add_argument("--paper-config", type=Path, default=REPO / "config/paper.yaml")
    everything.add_argument("--workdir", type=Path, default=Path("results/bench/work"),
                            help="scratch folder of the benchmark runs (tens of GB)")
    everything.add_argument("--reuse", action="store_true",
                            help="summarise the paper-scale run already in --workdir "
                                 "instead of running it again")
    everything.add_argument("--naive-permutations", type=int, default=1000)
    everything.add_argument("--naive-config", type=Path, default=REPO / "config/config.yaml",
                            help="the study of the naive-script comparison (about 80 min "
                                 "for the demo on 2 cores; tests/configs/tiny.yaml: minutes)")
    everything.add_argument("--sections", nargs="+", default=list(SECTIONS),
                            choices=list(SECTIONS))
    args = parser.parse_args(argv)
    if args.command == "permutation":
        print(json.dumps(permutation_row(args.engine, args.subjects, args.n_perm,
                                         args.threads, args.threshold_p)))
        return
    run_sections(args)
    print(args.markdown.read_text())


SECTIONS = ("paper", "rerun", "first-level", "demo", "naive", "engines", "planning",
            "overhead")


def run_sections(args: argparse.Namespace) -> None:
    """Every requested benchmark in order; the summary is rewritten after each one, so a
    long run that is stopped keeps what it measured."""
    paper_dir = (args.workdir / "paper").resolve()
    wall = None
    for name in args.sections:
        if name == "paper":
            paper = paper_scale(paper_dir, args.paper_config, reuse=args.reuse)
            wall = float(paper["overall"]["wall_s"].iloc[0])
            measured = paper
        elif name == "rerun":
            wall = wall or json.loads((paper_dir / "bench_run.json").read_text())["wall_s"]
            measured = {name: partial_rerun(paper_dir, args.paper_config, wall)}
        elif name == "first-level":
            measured = {name: first_level_overhead(paper_dir, args.paper_config)}
        elif name == "naive":
            measured = {name: naive_comparison((args.workdir / "naive").resolve(),
                                               args.naive_permutations, args.naive_config)}
        elif name == "overhead":
            measured = {name: job_overhead()}
        elif name == "demo":
            measured = {name: demo_run((args.workdir / "demo").resolve())}
        elif name == "engines":
            measured = {name: permutation_engines(args.n_perm, args.nilearn_perm, args.threads)}
        else:
            measured = {name: planning(args.paper_config)}
        write_summary({TITLES[key]: table for key, table in measured.items()}, args.out,
                      args.markdown)


if __name__ == "__main__":
    main()
