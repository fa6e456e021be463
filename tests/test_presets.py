"""The design presets: the paper's, a pre/post study and three groups, each from its own
config, tiny-sized end to end on its simulated study with its planted effects found."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import run_snakemake
from ecgap.config import check_analyses, validate_config
from ecgap.design import OMNIBUS
from ecgap.regions import SALIENCE_REGIONS
from preset_configs import PRESETS, TARGETS, preset, tiny_preset


def _design(name: str):
    return check_analyses(validate_config(preset(name)))


def test_each_preset_is_a_valid_design():
    paper, prepost, three = (_design(n) for n in ("paper", "prepost", "three_groups"))
    assert [p.name for p in paper.periods] == ["delta1", "delta2"]
    assert (prepost.sessions, prepost.condition_names, prepost.rating_names) == (
        ("pre", "post"), ["picture"], ["arousal"])
    assert [c.name for c in prepost.group_contrasts] == ["trainingGtControl",
                                                         "controlGtTraining"]
    assert prepost.scores == () and prepost.brain_behaviour_group == "training"
    assert three.group_contrast(OMNIBUS).rows == ((1.0, 0.0, -1.0), (0.0, 1.0, -1.0))
    assert len([c for c in three.group_contrasts if c.kind == "t"]) == 6
    assert three.conjunctions[0].group_contrast == "affectGtMemory"


@pytest.mark.parametrize("name, jobs", [("prepost", {"first_level": 56, "change_maps": 28,
                                                     "second_level": 1, "brain_behaviour": 2}),
                                        ("three_groups", {"first_level": 126,
                                                          "change_maps": 84, "second_level": 2,
                                                          "conjunction": 1})])
def test_a_preset_plans_the_jobs_of_its_design(name, jobs, tmp_path):
    proc = run_snakemake(tmp_path, "--dry-run", configfile=PRESETS[name])
    counts = {}
    for line in proc.stdout.split("Job stats:")[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert {k: counts.get(k) for k in jobs} == jobs


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


@pytest.mark.workflow
def test_three_groups_find_their_planted_changes(three_groups_run):
    results = three_groups_run
    recovery = _read(results / "second_level/truth_recovery.tsv")
    planted = recovery[recovery.planted]
    assert len(planted) and (planted.detected_regions.fillna("") != "").all(), planted
    assert (recovery.loc[~recovery.planted, "off_target_clusters"] <= 1).all()
    # salience changed in both trained groups at delta1: each beats the control there,
    # with every significant voxel in the salience network
    empathy = recovery[recovery.analysis == "empathyHELE"].set_index("contrast")
    for trained in ("affectGtMemory", "perspectiveGtMemory"):
        row = empathy.loc[trained]
        assert row.precision == 1.0 and row.off_target_clusters == 0, row
    assert not empathy.loc["affectGtPerspective", "planted"]
    clusters = _read(results / "second_level/empathyHELE/clusters.tsv")
    omnibus = clusters[clusters.contrast == OMNIBUS]
    assert omnibus.significant.any() and (omnibus.peak_t > 0).all()
    sidecar = json.loads(next((results / "second_level/empathyHELE").glob(
        "*_statmap.json")).read_text())
    f = sidecar["FContrasts"][OMNIBUS]
    assert f["NumeratorDF"] == 2 and f["ClusterFormingF"] > 1


@pytest.mark.workflow
def test_three_groups_analyse_their_behaviour(three_groups_run):
    manova = _read(three_groups_run / "behaviour/manova.tsv").set_index("effect")
    assert _read(three_groups_run / "behaviour/paper_comparison.tsv").empty
    assert manova.loc["time x group", "statistic"].startswith("approximate F")
    tests = _read(three_groups_run / "behaviour/ttests.tsv")
    assert set(tests.loc[tests.test == "between groups", "group"]) == {
        "affect - perspective", "affect - memory", "perspective - memory"}


def _near_planted(clusters: pd.DataFrame, regions: dict, mm: float) -> pd.Series:
    """Whether each cluster's peak lies within ``mm`` of a planted region's centre."""
    peaks = clusters[["peak_x", "peak_y", "peak_z"]].to_numpy(float)
    centres = np.array(list(regions.values()), float)
    return pd.Series(np.linalg.norm(peaks[:, None] - centres[None], axis=2).min(axis=1) <= mm,
                     index=clusters.index)


@pytest.mark.workflow
def test_a_pre_post_study_made_elsewhere_runs_as_bids_and_stays_untouched(tmp_path):
    """The pre/post design on BIDS + fMRIPrep data written outside the working directory
    (as a user's are): it runs from a fresh folder, finds the planted change and the
    rating's time x group effect, and leaves every input file as it was."""
    import hashlib

    from ecgap.simulate_study import write_study

    config = tiny_preset("prepost")
    data = tmp_path / "data"
    write_study(validate_config(copy.deepcopy(config)), data / "bids",
                data / "derivatives/fmriprep", tmp_path / "truth")

    def digest() -> dict[str, str]:
        return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(data.rglob("*")) if p.is_file()}

    before = digest()
    config["data"] = {"source": "bids", "bids_dir": str(data / "bids"), "task": "pictures",
                      "fmriprep_dir": str(data / "derivatives/fmriprep")}
    del config["simulate"]
    workdir = tmp_path / "analysis"
    workdir.mkdir()
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    results = workdir / "results"
    run_snakemake(workdir, "results/second_level/training/clusters.tsv",
                  *TARGETS[1:], configfile=configfile)
    clusters = _read(results / "second_level/training/clusters.tsv")
    found = clusters[clusters.significant]
    # the salience network's change is found (at this size: aMCC), and nothing else
    assert (found.contrast == "trainingGtControl").any(), clusters
    assert _near_planted(found, SALIENCE_REGIONS, mm=16).all(), found
    manova = _read(results / "behaviour/manova.tsv").set_index("effect")
    assert list(manova.index) == ["time", "time x group", "group"]
    assert manova.loc["time x group", "df1"] == 1  # one rating, one period
    assert manova.loc["time x group", "p"] < 0.05  # the planted arousal rise
    assert _read(results / "behaviour/paper_comparison.tsv").empty
    assert digest() == before
