"""Benchmark helpers: planning time and SLURM resources from benchmark files."""

import pandas as pd

from ecgap.bench import planning
from ecgap.resources import as_yaml, benchmark_table, suggest

from conftest import TINY


def test_planning_counts_the_jobs_of_a_fresh_study():
    row = planning(TINY, repeats=1).iloc[0]
    assert row["jobs"] > 250 and row["median_s"] > 0


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
