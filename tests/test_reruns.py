"""Partial reruns: editing one config value (or one script) plans exactly the jobs that
depend on it, from a dry run on the finished tiny run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, REPO, TINY

GROUP_LEVEL = {"second_level": 4, "brain_behaviour": 2, "conjunction": 2, "roi_values": 8,
               "truth_recovery": 1, "truth_recovery_html": 1, "figure_group": 4,
               "figure_brain_behaviour": 2, "figure_conjunction": 2, "figure_networks": 1,
               "report_findings": 1, "methods": 1}
FIRST_LEVEL = {"first_level": 54, "change_maps": 36, "figure_first_level_designs": 1,
               **GROUP_LEVEL}
PREPROCESS = {"preprocess_run": 54, "qc_runs": 1, "figure_qc": 1, "group_mask": 1, **FIRST_LEVEL}
FIGURES = {"figure_behaviour": 1, "figure_qc": 1, "figure_networks": 1, "figure_group": 4,
           "figure_brain_behaviour": 2, "figure_conjunction": 2,
           "figure_first_level_designs": 1, "report_findings": 1}
BEHAVIOUR = {"behaviour_sovt": 1, "behaviour_memory": 1, "behaviour_paper": 1,
             "behaviour_table_html": 7, "figure_behaviour": 1, "report_findings": 1,
             "methods": 1}


def planned_jobs(workdir: Path, configfile: Path, snakefile: Path = REPO / "Snakefile") -> dict:
    """Rule -> job count of a dry run (without the `all` target)."""
    proc = subprocess.run([str(BIN / "snakemake"), "-s", str(snakefile), "-d", str(workdir),
                           "--dry-run", "--configfile", str(configfile)],
                          capture_output=True, text=True, cwd=workdir)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    if "Nothing to be done" in text:
        return {}
    table = re.search(r"job\s+count\n[-\s]+\n(.*?)\ntotal", text, re.S).group(1)
    jobs = {line.split()[0]: int(line.split()[1]) for line in table.splitlines() if line.strip()}
    jobs.pop("all", None)
    return jobs


def edited_config(tmp_path: Path, key: str, value) -> Path:
    config = yaml.safe_load(TINY.read_text())
    node = config
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_unchanged_config_reruns_nothing(tiny_run, tmp_path):
    # Same values, keys in another order: still nothing to do.
    config = yaml.safe_load(TINY.read_text())
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    assert planned_jobs(tiny_run, path) == {}


@pytest.mark.parametrize("key, value, expected", [
    ("first_level.smoothing_fwhm", 8, FIRST_LEVEL),
    ("preprocess.confounds", {"strategy": ["motion", "high_pass", "wm_csf", "global_signal"]},
     PREPROCESS),
    ("preprocess.fd_threshold", 0.4, PREPROCESS),
    ("second_level.n_permutations", 500, GROUP_LEVEL),
    ("second_level.cluster_forming_p", 0.005, GROUP_LEVEL),
    ("figures.dpi", 100, FIGURES),
    ("behaviour.center_covariates", True, BEHAVIOUR),
], ids=["smoothing", "confounds", "fd_threshold", "permutations", "cluster_forming_p",
        "figure_dpi", "covariate_centring"])
def test_config_edit_reruns_exactly_its_dependents(tiny_run, tmp_path, key, value, expected):
    assert planned_jobs(tiny_run, edited_config(tmp_path, key, value)) == expected


def test_excluding_a_subject_reruns_no_per_run_job(tiny_run, tmp_path):
    config = edited_config(tmp_path, "data.exclude_subjects",
                           [{"subject": "03", "reason": "withdrew consent"}])
    planned = planned_jobs(tiny_run, config)
    assert "simulate_regressors" in planned and "ingest_behaviour" in planned
    assert not {"simulate_run", "ingest_run", "preprocess_run", "first_level",
                "change_maps"} & set(planned), planned


def test_dropping_an_analysis_reruns_only_what_lists_the_analyses(tiny_run, tmp_path):
    config = yaml.safe_load(TINY.read_text())
    config["second_level"]["analyses"] = [a for a in config["second_level"]["analyses"]
                                          if a["name"] != "tripleDelta1"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert planned_jobs(tiny_run, path) == {"truth_recovery": 1, "truth_recovery_html": 1,
                                            "figure_networks": 1, "report_findings": 1,
                                            "methods": 1}


def test_one_analysis_threshold_reruns_only_that_analysis(tiny_run, tmp_path):
    """A cluster-forming threshold set in one analysis' entry reruns its group-level job
    and what reads it, not the other analyses."""
    config = yaml.safe_load(TINY.read_text())
    for analysis in config["second_level"]["analyses"]:
        if analysis["name"] == "tripleDelta1":
            analysis["cluster_forming_p"] = 0.005
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert planned_jobs(tiny_run, path) == {
        "second_level": 1, "roi_values": 1, "figure_group": 1, "truth_recovery": 1,
        "truth_recovery_html": 1, "figure_networks": 1, "report_findings": 1, "methods": 1}


def _workflow_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "workflow"
    copy.mkdir()
    for part in ("Snakefile", "rules", "scripts", "config", "report", "envs", "profiles"):
        source = REPO / part
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, copy / part)
    return copy


def test_editing_a_script_reruns_its_rule_and_dependents(tiny_run, tmp_path):
    copy = _workflow_copy(tmp_path)
    script = copy / "scripts/figure_qc.py"
    script.write_text(script.read_text() + "\n# an edit\n")
    assert planned_jobs(tiny_run, TINY, copy / "Snakefile") == {"figure_qc": 1,
                                                               "report_findings": 1}


def test_editing_a_library_module_reruns_the_rules_whose_scripts_run_it(tiny_run, tmp_path):
    """Snakemake itself watches a rule's script only; the rules' library digest makes an
    edit of ecgap/recovery.py (run by truth_recovery's script alone) rerun that rule and
    the page of its table."""
    copy = _workflow_copy(tmp_path)
    module = copy / "scripts/ecgap/recovery.py"
    module.write_text(module.read_text() + "\n# an edit\n")
    assert planned_jobs(tiny_run, TINY, copy / "Snakefile") == {"truth_recovery": 1,
                                                               "truth_recovery_html": 1}
