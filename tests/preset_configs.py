"""The design presets at the tiny test size (as tests/configs/tiny.yaml sizes the paper's),
shared by test_presets and the background run of conftest."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PRESETS = {name: REPO / "config" / f"{name}.yaml"
           for name in ("config", "paper", "prepost", "three_groups")}
#: Group sizes, and larger planted changes for the few subjects and volumes.
TINY_SIZES = {
    "prepost": ({"training": 10, "control": 8}, {"delta1": 3.0}),
    "three_groups": ({"affect": 5, "perspective": 5, "memory": 5},
                     {"delta1": 3.5, "delta2": 3.0}),
}
#: What the preset runs make: truth recovery and the behaviour tables.
TARGETS = ["results/second_level/truth_recovery.tsv", "results/behaviour/manova.tsv",
           "results/behaviour/ttests.tsv", "results/behaviour/paper_comparison.tsv"]


def preset(name: str) -> dict:
    return yaml.safe_load(PRESETS[name].read_text())


def tiny_preset(name: str) -> dict:
    """The preset at the tiny test size: 8 mm, 6 events per condition, 500 permutations."""
    config = copy.deepcopy(preset(name))
    sizes, pct = TINY_SIZES[name]
    sim = config["simulate"]
    sim.update(seed=7, grid_mm=8, group_sizes=sizes)
    sim.setdefault("task", {})["videos_per_type"] = 6
    sim["imaging"].update(region_fwhm_mm=20, noise_pct=0.5)
    for change in sim["imaging"]["changes"]:
        change["pct"] = pct[change["name"]]
    config.setdefault("second_level", {}).update(n_permutations=500, cluster_forming_p=0.01)
    config.setdefault("brain_behaviour", {})["covariates"] = []
    return config
