"""Output names, label tables, provenance, readable region names and map figures."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from ecgap import __version__, figures
from ecgap.aal3 import readable_region, region_with_peak
from ecgap.names import bids_name, derivative_path, entities_of, name_problems
from ecgap.provenance import dataset_description, software_versions, versioned
from ecgap.second_level import dseg_table, load_aal3

from conftest import PAPER, REPO

SESSIONS = ["pre", "post1", "post2"]
GROUPS = {"affect": "affect", "memory": "memory"}


def test_bids_name_orders_entities_and_refuses_unknown_ones():
    assert bids_name({"desc": "a", "stat": "t", "contrast": "c", "space": "S", "task": "x"},
                     "statmap", ".nii.gz") == "task-x_space-S_contrast-c_stat-t_desc-a_statmap.nii.gz"
    assert derivative_path("d/sub-1_task-x", "dseg", ".tsv", desc="b", stat=None) == \
        "d/sub-1_task-x_desc-b_dseg.tsv"
    with pytest.raises(ValueError, match="analysis"):
        bids_name({"analysis": "a"}, "statmap")
    assert entities_of("x/sub-01_ses-pre_task-sovt_stat-z_statmap.nii.gz") == {
        "sub": "01", "ses": "pre", "task": "sovt", "stat": "z"}


@pytest.mark.parametrize("name, problem", [
    ("task-sovt_desc-empathyHELE_contrast-a_desc-FWEcluster_stat-t_statmap.nii.gz", "repeated"),
    ("task-sovt_contrast-a_space-S_stat-t_statmap.nii.gz", "out of BIDS order"),
    ("empathyHELE_contrast-a_maps.png", "no key-value"),
    ("task-sovt_analysis-a_statmap.nii.gz", "unknown entities"),
    ("group_mask.nii.gz", "no BIDS entities"),
])
def test_name_problems_reports_each_kind_of_bad_name(name, problem):
    problems = name_problems(name, require_entities=name.endswith(".nii.gz"))
    assert any(problem in p for p in problems), problems


def test_free_form_tables_and_good_maps_pass_the_name_check():
    for name in ("clusters.tsv", "fig2a_ratings.png", "sub-01_ses-pre.tsv",
                 "task-sovt_space-MNI152NLin2009cAsym_contrast-affectGtMemory_stat-t_desc-"
                 "empathyHELE_statmap.nii.gz"):
        assert name_problems(name) == []


def test_every_aal3_region_has_readable_words():
    _, names = load_aal3()
    assert all(readable_region(code) != code for code in names.values())
    assert readable_region("Cingulate_Mid_R") == "right middle cingulate"
    assert readable_region("near Thal_PuM_R") == "near right thalamus (PuM)"
    assert readable_region("N_Acc_L") == "left nucleus accumbens"
    assert readable_region("no label") == "no label"
    assert region_with_peak("OFCmed_L", -2.4, 46, -14) == \
        "left medial orbitofrontal cortex (-2, 46, -14)"


def test_cluster_label_table_is_a_bids_dseg_table():
    clusters = pd.DataFrame({"cluster_id": [1, 2], "peak_label": ["Insula_R", "no label"],
                             "peak_x": [38.0, 0], "peak_y": [18.0, 0], "peak_z": [0.0, 0]})
    table = dseg_table(clusters)
    assert list(table.columns) == ["index", "name"] and table["index"].tolist() == [1, 2]
    assert table["name"][0] == "cluster 1: peak Insula_R (38, 18, 0)"
    assert dseg_table(clusters.iloc[0:0]).empty


def test_dataset_description_is_a_derivative_with_versions(tmp_path):
    description = dataset_description("abc1234+changes", [str(tmp_path)], "9.27.1")
    assert description["DatasetType"] == "derivative"
    ecgap, nilearn = description["GeneratedBy"][:2]
    assert ecgap == {**ecgap, "Name": "ecgap", "Version": f"{__version__}+gabc1234.dirty"}
    assert nilearn["Name"] == "nilearn" and nilearn["Version"] == software_versions()["nilearn"]
    assert description["GeneratedBy"][2] == {"Name": "Snakemake", "Version": "9.27.1"}
    assert description["SourceDatasets"] == [{"URL": tmp_path.as_uri()}]
    assert versioned("1.0", "unknown") == "1.0" and versioned("1.0", "ab") == "1.0+gab"
    json.dumps(description)


def test_version_is_given_once_and_citation_agrees():
    citation = (REPO / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in citation
    assert f'version: "{__version__}"' in citation
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()
    assert "BSD 3-Clause" in (REPO / "LICENSE").read_text()


def _session_roi():
    rows = []
    for subject, group in (("01", "affect"), ("02", "affect"), ("03", "memory")):
        for i, ses in enumerate(SESSIONS):
            for video in ("HE", "LE"):
                rows.append({"contrast": "affectGtMemory", "cluster_id": 1,
                             "peak_label": "Insula_R", "subject": subject, "group": group,
                             "in_analysis": subject != "02" or i < 3, "session": ses,
                             "video_type": video, "effect": float(i) * (video == "HE")})
    return pd.DataFrame(rows)


def test_figure_3b_shows_each_session_per_group_with_n():
    values = figures.cluster_session_values(_session_roi(), PAPER.contrast_weights("meanHELE"))
    assert values.set_index(["subject", "session"])["value"][("01", "post2")] == 1.0
    clusters = pd.DataFrame({"contrast": ["affectGtMemory"], "cluster_id": [1],
                             "peak_label": ["Insula_R"], "peak_x": [38.0], "peak_y": [18.0],
                             "peak_z": [0.0]})
    fig = figures.plot_cluster_sessions(values, GROUPS, SESSIONS, "t",
                                        figures.cluster_titles(clusters))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == SESSIONS
    assert ax.get_title().startswith("right insula (38, 18, 0)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["affect (n = 2)",
                                                                   "memory (n = 1)"]
    plt.close(fig)


def _image(value_at: dict[tuple[int, int, int], float]) -> nib.Nifti1Image:
    data = np.zeros((20, 24, 20), np.float32)
    for ijk, value in value_at.items():
        data[ijk] = value
    affine = np.diag([8.0, 8.0, 8.0, 1.0])
    affine[:3, 3] = [-80, -112, -64]
    return nib.Nifti1Image(data, affine)


def _texts(fig: plt.Figure) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title]) + \
        " ".join(t.get_text() for t in fig.texts)


def test_map_figure_shows_the_one_sided_statistic_at_its_own_threshold():
    t = _image({(10, 14, 12): 5.0, (5, 5, 5): -6.0})
    fig = figures.plot_stat_maps(t, t, 3.48, "a", test="cluster-forming p < 0.001")
    assert "t > 3.48 (cluster-forming p < 0.001, one-sided)" in _texts(fig)
    assert "|z|" not in _texts(fig)
    plt.close(fig)
    assert figures.positive_part(t).get_fdata().min() == 0.0
    fig = figures.plot_stat_maps(_image({(5, 5, 5): -6.0}), _image({}), 3.48, "b")
    assert "No voxel has t > 3.48" in _texts(fig) and "none" in _texts(fig)
    plt.close(fig)


def test_empty_conjunction_figure_says_so_without_slices():
    fig = figures.plot_conjunction(_image({}), "HELE", 0.05)
    assert "no voxel is significant in every analysis" in _texts(fig)
    assert not any(ax.images for ax in fig.axes)
    plt.close(fig)
    fig = figures.plot_conjunction(_image({(10, 14, 12): 4.0}), "HELE", 0.05)
    assert "minimum z at the peak" in _texts(fig)
    plt.close(fig)


def test_sample_label_names_n_per_group():
    assert figures.sample_label({"N": 17, "NPerGroup": {"affect": 10, "memory": 7}},
                                {"affect": "Affect", "memory": "Memory"}) == \
        "n = 17 (Affect 10, Memory 7)"
    assert figures.sample_label({"N": 9, "Group": "affect"}, {"affect": "Affect"}) == \
        "n = 9 (Affect 9)"


def _methods_settings(**changes):
    import yaml

    from ecgap.config import design_from_config, validate_config

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for key, value in changes.items():
        section, name = key.split(".")
        config.setdefault(section, {})[name] = value
    validate_config(config, REPO / "config/schema/config.schema.yaml")
    design = design_from_config(config)
    settings = {k: config[k] for k in ("data", "preprocess", "first_level", "second_level",
                                       "brain_behaviour", "behaviour")}
    return {**settings, "simulate": config["simulate"], "design": design.as_dict()}


def test_methods_text_follows_the_configuration_and_the_run():
    from ecgap.methods import methods_markdown

    runs = pd.DataFrame({"subject": ["01", "01", "02"], "session": ["pre", "post1", "pre"]})
    exclusions = pd.DataFrame({"subject": ["02"], "session": ["pre"]})
    group = [{"N": 17, "ClusterFormingT": 3.55}, {"N": 15, "ClusterFormingT": 3.61}]
    versions = software_versions("9.27.1")
    text = methods_markdown(_methods_settings(), runs, exclusions, group, [{"N": 9}], versions)
    assert "Data from 2 participants" in text and "(1 of 3 runs)" in text
    assert "n = 15-17" in text and "t > 3.55-3.61" in text and "5000 permutations" in text
    assert "mean-centred covariates age and bdi" in text and "within the affect group (n = 9)" in text
    assert f"nilearn {versions['nilearn']}" in text and f"ecgap {__version__}" in text
    assert "https://doi.org/10.1093/scan/nst060" in text and "Nichols, T." in text
    edited = methods_markdown(
        _methods_settings(**{"second_level.conjunctions": [], "first_level.drift_model":
                             "cosine", "preprocess.std_dvars_threshold": None}),
        runs, exclusions, group, [], versions)
    assert "Nichols et al., 2005" not in edited and "Nichols, T., Brett" not in edited
    assert "cut-off 128 s" in edited and "DVARS" not in edited and "Brain-behaviour" not in edited
    own_p = [{**group[0], "ClusterFormingP": 0.001}, {**group[1], "ClusterFormingP": 0.005}]
    text = methods_markdown(_methods_settings(), runs, exclusions, own_p, [], versions)
    assert "one-sided p < 0.001-0.005 (t > 3.55-3.61)" in text


def test_methods_text_for_the_report_drops_the_title(tmp_path):
    from ecgap.captions import MethodsText

    path = tmp_path / "methods.md"
    assert "written by the workflow run" in str(MethodsText(path))
    path.write_text("# Methods\n\nWe did it.\n")
    assert str(MethodsText(path)) == "We did it."


def test_versions_come_from_the_jobs_own_environment(tmp_path):
    """Snakemake appends its own site-packages to a conda job's path: a package found
    only there is not recorded as the job's."""
    import sys

    from ecgap.provenance import in_environment

    assert in_environment(Path(sys.prefix) / "lib" / "site-packages")
    assert not in_environment(tmp_path / "other-env" / "site-packages")
    assert software_versions()["nilearn"] == __import__("nilearn").__version__
    assert "snakemake" not in software_versions()
    assert software_versions("9.27.1")["snakemake"] == "9.27.1"
