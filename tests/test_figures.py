"""Figures and report helpers: the numbers they show, the files they write."""

import json

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from conftest import PAPER
from ecgap import figures
from ecgap.captions import Findings
from ecgap.report import (cluster_sentence, fmt_p, headline_findings,
                          manova_sentence, qc_summary, table_html)

SESSIONS = ["pre", "post1", "post2"]
PERIODS = {p.name: [p.first, p.second] for p in PAPER.periods}
GROUPS = {"affect": "affect", "memory": "memory"}


def _ratings(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(6):
        group = "affect" if s < 3 else "memory"
        for ses in SESSIONS:
            for trial, video in enumerate(["HE", "LE"] * 2):
                rows.append({"subject": f"{s:02d}", "group": group, "session": ses,
                             "trial": trial, "video_type": video,
                             "empathy": rng.uniform(0, 10), "positive_affect": rng.uniform(0, 10),
                             "negative_affect": rng.uniform(0, 10)})
    return pd.DataFrame(rows)


def test_rating_summary_is_mean_and_sem_of_subject_means():
    ratings = _ratings()
    summary = figures.rating_summary(ratings, PAPER)
    cell = ratings[(ratings.group == "affect") & (ratings.session == "post1")
                   & (ratings.video_type == "HE")]
    per_subject = cell.groupby("subject").empathy.mean()
    row = summary[(summary.rating == "empathy") & (summary.group == "affect")
                  & (summary.session == "post1") & (summary.video_type == "HE")].iloc[0]
    assert row["mean"] == pytest.approx(per_subject.mean())
    assert row["sem"] == pytest.approx(per_subject.std(ddof=1) / np.sqrt(3))
    assert row["n"] == 3
    fig = figures.plot_ratings(summary, PAPER, GROUPS)
    assert len(fig.axes) == 3 and fig.axes[0].get_ylabel().startswith("Rating")
    plt.close(fig)


def _roi():
    """Two subjects, one cluster: HE rises by 1 from pre to post1, LE by 0.5."""
    rows = []
    for subject, group in (("01", "affect"), ("02", "memory")):
        for i, ses in enumerate(SESSIONS):
            for video, step in (("HE", 1.0), ("LE", 0.5)):
                effect = step * min(i, 1) if group == "affect" else 0.0
                rows.append({"contrast": "affectGtMemory", "cluster_id": 1,
                             "peak_label": "Insula_R", "subject": subject, "group": group,
                             "in_analysis": True, "session": ses, "video_type": video,
                             "effect": effect})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("contrast, delta1", [("meanHELE", 0.75), ("HE", 1.0), ("LE", 0.5),
                                              ("HEMinusLE", 0.5)])
def test_cluster_changes_combine_video_types_as_the_contrast(contrast, delta1):
    changes = figures.cluster_changes(_roi(), PAPER.contrast_weights(contrast), PERIODS)
    affect = changes[changes.group == "affect"].set_index("period")["change"]
    assert affect["delta1"] == pytest.approx(delta1)
    assert affect["delta2"] == pytest.approx(0.0)
    assert (changes[changes.group == "memory"]["change"] == 0).all()


def test_cluster_changes_of_no_cluster_is_empty_and_plots():
    empty = _roi().iloc[0:0]
    changes = figures.cluster_changes(empty, PAPER.contrast_weights("HE"), PERIODS)
    assert changes.empty
    values = figures.cluster_session_values(empty, PAPER.contrast_weights("HE"))
    plt.close(figures.plot_cluster_sessions(values, GROUPS, SESSIONS, "none"))
    plt.close(figures.plot_brain_behaviour(changes.assign(score=[]), "score"))


def test_save_figure_writes_every_format_and_no_temporary(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    paths = [tmp_path / "f.png", tmp_path / "f.svg"]
    figures.save_figure(fig, paths, dpi=50)
    assert all(p.stat().st_size > 0 for p in paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "f.svg"]
    assert figures.paths_for([str(p) for p in paths] + ["g.png"], "f.") == [str(p) for p in paths]


def test_session_design_has_a_panel_per_run_with_that_runs_columns():
    """A run's panel shows its own regressors: the spike column another run has (filled
    with zeros when the session's designs were stacked) is not drawn in it."""
    rng = np.random.default_rng(0)
    one = pd.DataFrame(rng.normal(size=(20, 3)), columns=["HE", "LE", "constant"])
    two = one.assign(scrub000=np.eye(20)[5])
    stacked = pd.concat([one.assign(run="run-1"), two.assign(run="run-2")]).fillna(0.0)
    fig = figures.plot_session_design(stacked)
    assert [ax.get_title() for ax in fig.axes] == ["run-1", "run-2"]
    ticks = [[t.get_text() for t in ax.get_xticklabels()] for ax in fig.axes]
    assert ticks == [["HE", "LE", "constant"], ["HE", "LE", "constant", "scrub000"]]
    # a regressor that is zero everywhere (a constant rating, centred) is drawn
    broken = stacked.assign(rating=0.0)
    ticks = [[t.get_text() for t in ax.get_xticklabels()]
             for ax in figures.plot_session_design(broken).axes]
    assert all("rating" in labels for labels in ticks)
    single = figures.plot_session_design(one.assign(rating=0.0))
    assert [t.get_text() for t in single.axes[0].get_xticklabels()][-1] == "rating"
    plt.close("all")


def test_binary_union_and_networks_figure():
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = [-90, -126, -72]
    a = np.zeros((46, 55, 46), np.float32)
    b = np.zeros_like(a)
    a[22, 36, 18] = 3.0
    b[22, 40, 16] = np.nan
    union = figures.binary_union([nib.Nifti1Image(a, affine), nib.Nifti1Image(b, affine)])
    assert int(np.asarray(union.dataobj).sum()) == 1  # NaN is not significant
    assert figures.binary_union([]) is None
    samples = {"delta1": figures.period_sample_label(
        [{"N": 17, "NPerGroup": {"affect": 10, "memory": 7}}] * 2, {"affect": "Affect",
                                                                   "memory": "Memory"}),
               "delta2": "n = 16 (Affect 9, Memory 7)"}
    fig = figures.plot_networks({"delta1": union, "delta2": None}, (0, 18, -4),
                                {p.name: p.words() for p in PAPER.periods}, samples)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[0].endswith("; n = 17 (Affect 10, Memory 7)")
    assert "n = 16" in labels[1] and labels[1].endswith("no significant cluster")
    plt.close(fig)


def test_findings_read_lazily_and_have_a_stable_repr(tmp_path):
    path = tmp_path / "summary.json"
    findings = Findings(path)
    assert repr(findings) == f"Findings({str(path)!r})" and len(findings) == 0
    path.write_text(json.dumps({"sentence": "two clusters"}))
    assert findings["sentence"] == "two clusters" and list(findings) == ["sentence"]


def _clusters():
    return pd.DataFrame({
        "contrast": ["affectGtMemory", "affectGtMemory", "memoryGtAffect"],
        "cluster_id": [1, 2, 1], "size_voxels": [14, 3, 2], "peak_x": [38.0, -2, 0],
        "peak_y": [18.0, 18, 0], "peak_z": [0.0, 40, 0], "peak_zscore": [4.1, 3.0, 2.5],
        "p_fwe_size": [0.0004, 0.3, 0.9], "peak_label": ["Insula_R", "Cingulate_Mid_L", "x"],
        "significant": [True, False, False]})


def test_cluster_sentence_states_the_significant_clusters():
    assert cluster_sentence(_clusters(), "affectGtMemory", "affect > memory") == (
        "affect > memory: 1 FWE-significant cluster: right insula (38, 18, 0; z = 4.10; "
        "14 voxels; p(FWE) < .001)")
    assert cluster_sentence(_clusters(), "memoryGtAffect", "memory > affect") == \
        "memory > affect: no FWE-significant cluster"
    assert fmt_p(0.0123) == ".012" and fmt_p(float("nan")) == "n/a"


def test_table_html_escapes_and_formats():
    page = table_html(pd.DataFrame({"label": ["<b>"], "p": [0.000012], "z": [3.14159]}),
                      "T & t")
    assert "&lt;b&gt;" in page and "T &amp; t" in page
    assert "1.2e-05" in page and "3.142" in page
    assert "(no rows)" in table_html(pd.DataFrame({"a": []}), "empty")


def test_manova_and_qc_sentences():
    manova = pd.DataFrame({"effect": ["video"], "F": [8.18], "df1": [3], "df2": [47],
                           "p": [0.0002]})
    assert manova_sentence(manova, "SoVT") == "SoVT: video F(3, 47) = 8.18, p < .001"
    runs = pd.DataFrame({"subject": ["01", "02"], "session": ["pre", "pre"],
                         "excluded": [False, True], "reason": ["", "mean FD 0.9 mm > 0.5 mm"],
                         "mean_fd": [0.1, 0.9], "tsnr": [80.0, 40.0]})
    summary = qc_summary(runs)
    assert summary["n_excluded"] == 1
    assert summary["sentence"].startswith("1 of 2 runs excluded: sub-02 pre (mean FD 0.9")


def test_headline_findings_collects_every_summary():
    summaries = {
        "results/figures/behaviour_summary.json": {"sovt_manova": "S", "memory_manova": "M",
                                                   "paper_agreement": "A"},
        "results/figures/networks_summary.json": {"sentence": "N"},
        "results/figures/qc_summary.json": {"sentence": "Q"},
        "results/second_level/empathyHELE/figures/summary.json":
            {"n": 27, "sentences": {"affectGtMemory": "a", "memoryGtAffect": "b"}},
        "results/conjunctions/HELE/figures/summary.json": {"verdict": "V",
                                                            "cluster_overlap": "O"},
        "results/brain_behaviour/empathyRating/figures/summary.json":
            {"sentences": {"positiveSlope": "p", "negativeSlope": "n"}},
    }
    head = headline_findings(summaries, ["empathyHELE"], ["HELE"], ["empathyRating"])
    assert head == {"behaviour": ["S", "M", "A"], "networks": "N",
                    "group": ["empathyHELE (27 subjects): a; b"], "conjunctions": ["V"],
                    "cluster_overlaps": ["O"], "brain_behaviour": ["empathyRating: p; n"], "qc": "Q"}
