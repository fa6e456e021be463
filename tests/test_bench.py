"""Benchmark helpers: planning time and SLURM resources from benchmark files."""

import subprocess

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from ecgap.bench import (ONE_THREAD, TITLES, bare_first_level_command, demo_config,
                         edited_threshold_config, job_summary, machine_speed, measured_at,
                         partial_rerun, per_subject_components, permutation_share, planning,
                         rerun_jobs, simulate, simulation_targets, slurm_submissions, stage_of,
                         validated_config, write_summary)
from ecgap.design import Design
from ecgap.resources import as_yaml, benchmark_table, suggest

from conftest import REPO, TINY


def test_planning_counts_the_jobs_of_a_fresh_study():
    row = planning(TINY, repeats=1).iloc[0]
    assert row["jobs"] > 250 and row["median_s"] > 0
    # 18 subjects: their 54 x 4 per-run jobs and 36 change maps are 18 submissions.
    assert row["slurm_submissions"] == row["jobs"] - 1 - (54 * 4 + 36) + 18


def test_a_paper_scale_run_through_the_slurm_profile_submits_at_most_250_jobs():
    row = planning(REPO / "config/paper.yaml", repeats=1).iloc[0]
    assert row["jobs"] > 800
    assert row["slurm_submissions"] <= row["target_submissions"] == 250


def test_grouped_jobs_are_one_component_per_subject_when_both_periods_are_analysed():
    config = validated_config(TINY)
    assert per_subject_components(config) == 18
    config["second_level"]["analyses"] = [a for a in config["second_level"]["analyses"]
                                          if a["delta"] == "delta1"]
    config["brain_behaviour"]["analyses"] = []
    config["data"]["exclude_subjects"] = [{"subject": "01", "reason": "r"}]
    assert per_subject_components(config) == 17 * 2  # Pre + Post1, and Post2 alone


def test_submissions_follow_the_profiles_groups(tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text("groups: [first_level=subject, change_maps=subject]\n"
                       "group-components: [subject=4]\n")
    jobs = {"all": 1, "first_level": 30, "change_maps": 20, "second_level": 8}
    assert slurm_submissions(jobs, 10, profile) == 8 + 3
    profile.write_text("executor: slurm\n")
    assert slurm_submissions(jobs, 10, profile) == 58


def test_resources_take_the_worst_job_of_each_rule_with_head_room(tmp_path):
    columns = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (tmp_path / "first_level").mkdir()
    for name, seconds, rss in (("a", 10.0, 800.0), ("b", 130.0, 1200.0)):
        (tmp_path / "first_level" / f"{name}.tsv").write_text(
            columns + f"{seconds}\t0\t{rss}\t0\t0\t0\t0\t0\t0\t0\n")
    (tmp_path / "group_mask.tsv").write_text(columns + "1.0\t0\tNA\t0\t0\t0\t0\t0\t0\t0\n")
    table = benchmark_table(tmp_path)
    assert sorted(table["rule"]) == ["first_level", "first_level", "group_mask"]
    resources = suggest(table)
    assert resources["first_level"] == {"mem_mb": 1800, "runtime": 7}
    assert resources["group_mask"] == {"mem_mb": 500, "runtime": 5}
    assert "  first_level: {mem_mb: 1800, runtime: 7}" in as_yaml(resources)
    assert isinstance(table, pd.DataFrame)


def _benchmark_file(path, seconds, rss):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load"
                    f"\tcpu_time\n{seconds}\t0\t{rss}\t0\t0\t0\t0\t0\t0\t{seconds}\n")


def test_stages_and_permutation_share_come_from_the_benchmark_files(tmp_path):
    bench = tmp_path / "results" / "benchmarks"
    _benchmark_file(bench / "simulate_run" / "sub-01_ses-pre.tsv", 10.0, 500.0)
    _benchmark_file(bench / "first_level" / "sub-01_ses-pre.tsv", 20.0, 900.0)
    _benchmark_file(bench / "first_level" / "sub-01_ses-post1.tsv", 30.0, 950.0)
    _benchmark_file(bench / "second_level" / "empathyHELE.tsv", 40.0, 2000.0)
    _benchmark_file(bench / "figure_qc.tsv", 5.0, 300.0)
    sidecar = tmp_path / ("results/second_level/empathyHELE/"
                         "task-sovt_space-MNI152NLin2009cAsym_desc-empathyHELE_statmap.json")
    sidecar.parent.mkdir(parents=True)
    sidecar.write_text('{"Permutations": 1000}')
    jobs = benchmark_table(bench)
    jobs["stage"] = jobs["rule"].map(stage_of)
    stages = job_summary(jobs, "stage").set_index("stage")
    assert stages.loc["first level", "jobs"] == 2
    assert stages.loc["first level", "total_s"] == 50.0
    assert stages.loc["first level", "peak_rss_mb"] == 950.0
    assert stages.loc["figures + report", "total_s"] == 5.0
    assert abs(stages["share_of_job_time"].sum() - 1) < 0.01
    share = permutation_share(tmp_path, jobs, wall_s=100.0).set_index("analysis")
    assert share.loc["empathyHELE", "permutations"] == 2000  # two one-sided contrasts
    assert share.loc["empathyHELE", "permutations_per_s"] == 50.0
    assert share.loc["1 jobs", "share_of_job_time"] == round(40 / 105, 3)
    assert share.loc["1 jobs", "share_of_wall_time_upper"] == 0.4


def test_threshold_edit_touches_one_analysis_of_the_default_list(tmp_path):
    source = tmp_path / "in.yaml"
    source.write_text("simulate: {seed: 3}\n")
    out = edited_threshold_config(source, "compassionHE", 0.01, tmp_path / "out.yaml")
    analyses = yaml.safe_load(out.read_text())["second_level"]["analyses"]
    assert len(analyses) == 8  # the schema's default set, spelled out
    edited = [a for a in analyses if "cluster_forming_p" in a]
    assert edited == [{"name": "compassionHE", "delta": "delta2", "contrast": "HE",
                       "cluster_forming_p": 0.01}]


def test_a_section_measured_again_replaces_only_itself_in_the_summary(tmp_path):
    write_summary({TITLES["planning"]: pd.DataFrame([{"jobs": 763, "median_s": 5.6}]),
                   TITLES["overall"]: pd.DataFrame([{"jobs": 763, "wall_s": 3785.0}])},
                  tmp_path)
    write_summary({TITLES["planning"]: pd.DataFrame([{"jobs": 763, "median_s": 4.9}])},
                  tmp_path)
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    assert list(summary["section"]) == [TITLES["overall"], TITLES["planning"]]
    assert summary["median_s"].iloc[1] == 4.9 and summary["wall_s"].iloc[0] == 3785.0
    markdown = (tmp_path / "summary.md").read_text()
    assert markdown.index("## Paper-scale run") < markdown.index("## Planning")
    assert "5.6" not in markdown
    assert (summary["measured"] == measured_at()).all() and "commit" in measured_at()
    assert summary["reference_s"].gt(0).all() and machine_speed(repeats=1) > 0
    write_summary({}, tmp_path, tmp_path / "benchmarks.md")
    assert (tmp_path / "benchmarks.md").read_text() == markdown


def test_rerun_jobs_are_the_benchmark_files_written_since_the_edit(tmp_path):
    import os
    import time

    _benchmark_file(tmp_path / "second_level" / "empathyHELE.tsv", 30.0, 900.0)
    _benchmark_file(tmp_path / "second_level" / "compassionHE.tsv", 40.0, 900.0)
    old = time.time() - 3600
    os.utime(tmp_path / "second_level" / "compassionHE.tsv", (old, old))
    rerun = rerun_jobs(tmp_path, since=time.time() - 60)
    assert list(rerun["job"]) == ["empathyHELE"]


def test_the_naive_comparison_simulates_the_whole_study_and_nothing_else(tmp_path):
    small = yaml.safe_load(TINY.read_text())
    small["simulate"].update(group_sizes={"affect": 3, "memory": 2})
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(small))
    configfile = demo_config(10, tmp_path / "demo.yaml", base=tmp_path / "small.yaml")
    simulate(tmp_path / "work", configfile)
    targets = simulation_targets(yaml.safe_load(configfile.read_text()))
    assert len(targets) == 3 + 6 * 5 * 3
    assert all((tmp_path / "work" / target).is_file() for target in targets)
    rules = {p.name for p in (tmp_path / "work/results/benchmarks").iterdir()}
    assert rules == {"simulate_behaviour.tsv", "simulate_truth.tsv", "simulate_regressors.tsv",
                     "simulate_run"}


def test_a_threshold_edit_and_its_revert_rerun_the_same_group_level_jobs(tiny_run, tmp_path):
    import shutil

    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    row = partial_rerun(workdir, TINY, full_wall_s=1000.0, p=0.005, repeats=2).iloc[0]
    edited, reverted = row["jobs_rerun"].split("/")
    assert edited == reverted and int(edited) > 1
    rules = row["rules"].split(", ")
    assert "second_level" in rules
    assert not {"simulate_run", "ingest_run", "first_level", "change_maps"} & set(rules)
    assert 0 < row["analysis_job_s"] <= row["rerun_jobs_summed_s"]
    # the ratio is rounded from the unrounded wall time, rerun_wall_s to 0.1 s
    assert row["ratio_to_full_run"] == pytest.approx(row["rerun_wall_s"] / 1000.0, abs=1e-3)


def test_job_overhead_runs_each_rule_scripts_prologue():
    from ecgap.bench import rule_scripts, script_prologue

    scripts = rule_scripts()
    assert scripts["change_maps"].name == "change_maps.py"
    assert len(scripts) >= 30 and all(path.is_file() for path in scripts.values())
    code = script_prologue(scripts["change_maps"])
    assert "from ecgap.changes import change_map" in code and "main(" not in code
    # the collector is paused before the imports, as in the job
    assert code.index("gc.disable()") < code.index("from ecgap.changes")


@pytest.mark.parametrize("rule", ["brain_behaviour", "figure_behaviour", "figure_group"])
def test_jobs_that_only_reshape_ratings_load_no_statistics_library(rule):
    """pingouin and statsmodels cost about 0.4 s of imports per job: only the behaviour
    jobs, which run the tests, load them."""
    import sys

    from ecgap.bench import SCRIPT_PREAMBLE, rule_scripts, script_prologue

    code = (SCRIPT_PREAMBLE + script_prologue(rule_scripts()[rule])
            + "\nimport sys\nprint(sorted(m for m in ('pingouin', 'statsmodels') "
              "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO / "scripts",
                         env={**ONE_THREAD, "PYTHONPATH": str(REPO / "scripts")})
    assert out.stdout.strip() == "[]", out.stdout


def test_a_jobs_preamble_imports_no_scientific_library(tmp_path):
    """Snakemake pickles the config into every script job; unpickling imports the module
    of each object in it. Run one real job, keep its script, and unpickle its
    ``snakemake`` object in a fresh process: numpy, pandas and nibabel stay unloaded."""
    import ast
    import re
    import subprocess
    import sys

    from conftest import BIN, REPO, TINY

    subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
                    "-c1", "results/dataset_description.json", "--configfile", str(TINY),
                    "--skip-script-cleanup"], check=True, capture_output=True, cwd=tmp_path)
    [script] = (tmp_path / ".snakemake/scripts").glob("*.dataset_description.py")
    pickled = ast.literal_eval(re.search(r"pickle\.loads\((b(['\"]).*?\2)\);",
                                         script.read_text(), re.S).group(1))
    code = ("import pickle, sys\n"
            f"snakemake = pickle.loads({pickled!r})\n"
            "assert 'report_findings' in snakemake.config\n"
            "print(sorted(m for m in ('numpy', 'pandas', 'nibabel', 'ecgap.report') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO / "scripts").stdout.strip()
    assert out == "[]", out


def test_the_commit_stamp_ignores_the_benchmark_tables_only(tmp_path):
    """A second bench process sees the tables the first one rewrote: those changes do
    not make the measured code '+changes'; a change to anything else does."""
    import subprocess

    from ecgap.bench import BENCH_OUTPUTS as ignore
    from ecgap.provenance import commit

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "docs/benchmarks").mkdir(parents=True)
    for name in ("docs/benchmarks.md", "docs/benchmarks/summary.tsv", "Snakefile"):
        (tmp_path / name).write_text("before\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "first")
    assert "+" not in commit(tmp_path, ignore)
    (tmp_path / "docs/benchmarks.md").write_text("after\n")
    (tmp_path / "docs/benchmarks/summary.tsv").write_text("after\n")
    assert "+" not in commit(tmp_path, ignore)
    assert commit(tmp_path).endswith("+changes")
    (tmp_path / "Snakefile").write_text("after\n")
    assert commit(tmp_path, ignore).endswith("+changes")


@pytest.mark.workflow
def test_the_bare_nilearn_first_level_fits_the_workflows_model(tiny_run, tmp_path):
    """The first-level row compares the workflow's job with bare nilearn computing the
    same maps: same trial types, confounds, slice timing, GLM and float32 series."""
    config = validated_config(TINY)
    design = Design.of_study(config["design"])
    subject, session, task = "02", design.sessions[1], config["data"]["task"]
    subprocess.run(bare_first_level_command(tiny_run, config, subject, session,
                                            str(tmp_path / "bare")),
                   check=True, capture_output=True, env=ONE_THREAD)
    stem = f"sub-{subject}_ses-{session}_task-{task}_space-{config['data']['space']}"
    for contrast in design.first_level_contrasts(False):
        for stat in ("effect", "variance", "z"):
            ours = np.asarray(nib.load(
                tiny_run / f"results/first_level/sub-{subject}/ses-{session}"
                / f"{stem}_contrast-{contrast}_stat-{stat}_statmap.nii.gz").dataobj)
            bare = np.asarray(nib.load(tmp_path / f"bare_{contrast}_{stat}.nii.gz").dataobj)
            np.testing.assert_array_equal(ours, bare, err_msg=f"{contrast} {stat}")
