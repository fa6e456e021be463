"""How often the simulated study reproduces each of the paper's behavioural decisions.

Simulates the behaviour of many studies (different seeds, same config), runs the full
behavioural analysis on each, and reports per reported statistic the fraction of
studies in which ours is significant and in which the decision agrees with the paper.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from ecgap.behaviour import all_tables
from ecgap.bids import Layout, canonical_run_paths
from ecgap.config import validate_config
from ecgap.ingest import behaviour_tables
from ecgap.paper import compare_with_paper
from ecgap.simulate_behaviour import (BehaviourParams, study_from_config,
                                      write_behaviour_dataset)


def study_tables(config: dict, seed: int, workdir: Path) -> dict[str, pd.DataFrame]:
    """Simulate one study's behaviour under ``workdir`` and analyse it as the workflow
    does: the ingest tables (participants, ratings, memory), every behavioural table and
    the paper comparison, by name."""
    study = dataclasses.replace(study_from_config(config), seed=seed)
    design = study.study
    data, sim = config["data"], config["simulate"]
    root = workdir / f"seed-{seed}"
    write_behaviour_dataset(study, BehaviourParams(**sim["behaviour"]), root / "bids",
                            root / "fmriprep", root / "truth", sim["imaging"]["link"])
    layout = Layout(root / "bids", root / "fmriprep", data["task"], data["space"])
    events = pd.DataFrame([{"subject": s, "session": ses,
                            "events": canonical_run_paths(layout, s, ses)["events"]}
                           for s in study.subjects for ses in design.sessions])
    participants, ratings, memory = behaviour_tables(
        layout.bids_dir, events, study.subjects, list(design.sessions), design.labels(),
        list(data["covariates"]), {c.name: c.trial_type for c in design.conditions},
        {r.name: r.column for r in design.ratings},
        {"task": design.score_task, "scores": list(design.scores)})
    beh = config["behaviour"]
    tables = all_tables(ratings, participants, memory, design, data["covariates"],
                        beh["center_covariates"], beh["practice_column"])
    return {"participants": participants, "ratings": ratings, "memory": memory, **tables,
            "paper_comparison": compare_with_paper(tables, beh["alpha"])}


def one_study(config: dict, seed: int, workdir: Path) -> pd.DataFrame:
    """Simulate and analyse one study's behaviour; return its paper comparison."""
    return study_tables(config, seed, workdir)["paper_comparison"].assign(seed=seed)


def power_table(config: dict, seeds: range) -> pd.DataFrame:
    """Per reported statistic: paper decision, our significance rate and agreement rate."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = pd.concat([one_study(config, seed, Path(tmp)) for seed in seeds])
    summary = runs.groupby(["analysis", "statistic"], sort=False).agg(
        paper_significant=("paper_significant", "first"),
        paper_value=("paper_value", "first"),
        mean_value=("our_value", "mean"),
        significant_rate=("our_significant", "mean"),
        agree_rate=("agree", "mean"))
    return summary.reset_index()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="config/paper.yaml")
    parser.add_argument("--schema", default="config/schema/config.schema.yaml")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--out", default="results/behaviour/power.tsv")
    args = parser.parse_args(argv)
    config = validate_config(yaml.safe_load(Path(args.config).read_text()), args.schema)
    table = power_table(config, range(1, args.seeds + 1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False)
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(table.round(3).to_string(index=False))
    print(f"\nall decisions agree in {table.agree_rate.mean():.1%} of statistic x study "
          f"pairs; table written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
