"""The paper's figures, QC figures and per-analysis map figures, from the workflow's outputs.

One style for all of them: 9 pt sans-serif text, labelled axes with units, the Okabe-Ito
colour-blind-safe palette, the same colour for a group (and for a change period) in
every figure. Each ``plot_*`` function returns a matplotlib Figure; :func:`save_figure`
writes it in every configured format and closes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # figures are written by batch jobs, never shown

import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ecgap.aal3 import readable_region, region_with_peak  # noqa: E402
from ecgap.ratings import cell_means  # noqa: E402
from ecgap.io import atomic_path  # noqa: E402
from ecgap.design import Design  # noqa: E402

#: Okabe & Ito (2008) colours, safe for the common colour-vision deficiencies.
OKABE_ITO = {"orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
             "black": "#000000", "grey": "#999999"}
#: Groups' colours (by design order: trained groups first in the paper's design, then
#: the control), and change periods' colours, one each everywhere.
GROUP_COLOURS = tuple(OKABE_ITO[c] for c in ("vermillion", "blue", "green", "purple", "sky",
                                             "yellow", "black"))
PERIOD_COLOURS = tuple(OKABE_ITO[c] for c in ("orange", "green", "sky", "purple", "yellow"))
#: Line styles of the conditions, in design order.
CONDITION_STYLES = ("-", "--", ":", "-.")
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10,
    "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8,
    "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100,
    "savefig.bbox": "tight", "svg.fonttype": "none",
}
plt.rcParams.update(STYLE)


def save_figure(fig: plt.Figure, paths: str | Path | Sequence[str | Path],
                dpi: int = 200) -> None:
    """Write ``fig`` to each path (its suffix is the format) atomically, then close it."""
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip("."))
    plt.close(fig)


def paths_for(paths: Sequence[str], key: str) -> list[str]:
    """The paths of one figure (all formats) among a rule's outputs, by a name part."""
    return [p for p in paths if key in Path(p).name]


def mean_sem(values: pd.DataFrame | pd.Series, by: Sequence[str] | str) -> pd.DataFrame:
    """Mean, SEM and n of ``values`` per group of ``by``."""
    grouped = values.groupby(by)
    return pd.DataFrame({"mean": grouped.mean(), "sem": grouped.sem(), "n": grouped.count()})


def group_colours(groups: Mapping[str, str]) -> dict[str, str]:
    """Group label in the data -> its colour; ``groups`` maps the design's group names
    to labels, in design order."""
    return {label: GROUP_COLOURS[i % len(GROUP_COLOURS)]
            for i, label in enumerate(groups.values())}


def _session_axis(ax: plt.Axes, sessions: Sequence[str]) -> None:
    ax.set_xticks(range(len(sessions)))
    ax.set_xticklabels([s.capitalize() for s in sessions])
    ax.set_xlim(-0.3, len(sessions) - 0.7)


def rating_summary(ratings: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Mean and SEM over subjects of the subject mean rating, per rating, group, session
    and condition (Figure 2A's numbers)."""
    if not design.ratings:
        return pd.DataFrame(columns=["group", "session", "video_type", "mean", "sem", "n",
                                     "rating"])
    wide = cell_means(ratings, design)
    groups = ratings.groupby("subject")["group"].first()
    long = wide.stack(["session", "video_type"], future_stack=True).reset_index()
    long["group"] = long["subject"].map(groups)
    rows = []
    for rating in design.rating_names:
        stats = mean_sem(long.set_index(["group", "session", "video_type"])[rating],
                         ["group", "session", "video_type"]).reset_index()
        rows.append(stats.assign(rating=rating))
    return pd.concat(rows, ignore_index=True)


def plot_ratings(summary: pd.DataFrame, design: Design,
                 groups: Mapping[str, str]) -> plt.Figure:
    """Figure 2A: each rating per session, by group and condition, mean +- SEM."""
    colours, sessions = group_colours(groups), list(design.sessions)
    if not design.ratings:
        fig, ax = plt.subplots(figsize=(3.6, 2.6))
        _no_cluster_axes(ax, "no ratings in the design")
        return fig
    fig, axes = plt.subplots(1, len(design.ratings), figsize=(7.2, 2.6), sharey=True,
                             squeeze=False)
    conditions = design.condition_names
    offsets = {c: 0.1 * (i - (len(conditions) - 1) / 2) for i, c in enumerate(conditions)}
    styles = {c: CONDITION_STYLES[i % len(CONDITION_STYLES)] for i, c in enumerate(conditions)}
    for ax, rating in zip(axes[0], design.ratings):
        for (group, video), cell in summary[summary.rating == rating.name].groupby(
                ["group", "video_type"]):
            cell = cell.set_index("session").reindex(sessions)
            x = np.arange(len(sessions)) + offsets.get(video, 0)
            ax.errorbar(x, cell["mean"], yerr=cell["sem"], color=colours[group],
                        linestyle=styles.get(video, "-"), marker="o", markersize=3.5,
                        capsize=2, label=f"{group} (n = {cell['n'].max():.0f}), {video}")
        ax.set_title(rating.title())
        _session_axis(ax, sessions)
        ax.set_xlabel("Session")
    axes[0][0].set_ylabel("Rating (0-10), mean ± SEM")
    axes[0][-1].legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def memory_summary(memory: pd.DataFrame, scores: Sequence[str]) -> pd.DataFrame:
    """Mean and SEM per score, group and session (Figure 2B's numbers)."""
    if not scores:
        return pd.DataFrame(columns=["score", "group", "session", "mean", "sem", "n"])
    long = memory.melt(id_vars=["subject", "group", "session"], value_vars=list(scores),
                       var_name="score").dropna(subset=["value"])
    return mean_sem(long.set_index(["score", "group", "session"])["value"],
                    ["score", "group", "session"]).reset_index()


def plot_memory(summary: pd.DataFrame, sessions: Sequence[str],
                groups: Mapping[str, str]) -> plt.Figure:
    """Figure 2B: the per-session scores (the memory task's) by group, mean +- SEM."""
    colours = group_colours(groups)
    scores = list(dict.fromkeys(summary["score"]))
    if not scores:
        fig, ax = plt.subplots(figsize=(3.6, 2.6))
        _no_cluster_axes(ax, "no per-session scores in the design")
        return fig
    fig, axes = plt.subplots(1, len(scores), figsize=(2.4 * len(scores) + 1.2, 2.6),
                             squeeze=False)
    for ax, score in zip(axes[0], scores):
        for group, cell in summary[summary.score == score].groupby("group"):
            cell = cell.set_index("session").reindex(sessions)
            ax.errorbar(np.arange(len(sessions)), cell["mean"], yerr=cell["sem"],
                        color=colours[group], marker="o", markersize=3.5,
                        capsize=2, label=f"{group} (n = {cell['n'].max():.0f})")
        ax.set_title(score.replace("_", " ").capitalize())
        _session_axis(ax, sessions)
        ax.set_xlabel("Session")
        ax.set_ylabel("Words, mean ± SEM")
    axes[0][-1].legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def binary_union(images: Sequence[nib.Nifti1Image]) -> nib.Nifti1Image | None:
    """1 where any image is non-zero (NaN counts as zero); None for no images."""
    if not images:
        return None
    data = np.zeros(images[0].shape, dtype=np.int8)
    for img in images:
        data |= np.nan_to_num(np.asarray(img.dataobj)) != 0
    return nib.Nifti1Image(data, images[0].affine)


def plot_networks(networks: Mapping[str, nib.Nifti1Image | None],
                  cut_coords: Sequence[float], words: Mapping[str, str],
                  samples: Mapping[str, str] | None = None) -> plt.Figure:
    """Figure 3A: each change period's FWE-significant clusters, one colour per period,
    on the MNI152 template (sagittal, coronal, axial at ``cut_coords`` = x, y, z).
    ``words`` names each period, ``samples`` gives its sample (:func:`sample_label`)
    for the legend."""
    from nilearn import datasets, plotting

    fig = plt.figure(figsize=(7.2, 3.0))
    # The bottom strip is kept free for the legend (nilearn fills the axes it is given).
    display = plotting.plot_anat(datasets.load_mni152_template(resolution=2), figure=fig,
                                 axes=fig.add_axes((0, 0.14, 1, 0.86)),
                                 display_mode="ortho", cut_coords=tuple(cut_coords),
                                 draw_cross=False, annotate=True, black_bg=False,
                                 colorbar=False)
    handles = []
    for index, (period, img) in enumerate(networks.items()):
        colour = PERIOD_COLOURS[index % len(PERIOD_COLOURS)]
        if img is not None and np.asarray(img.dataobj).any():
            display.add_overlay(img, cmap=ListedColormap([colour]), threshold=0.5,
                                transparency=0.85, interpolation="nearest")
        sample = f"; {samples[period]}" if samples and samples.get(period) else ""
        handles.append(Patch(color=colour, label=words[period] + sample
                             + ("" if img is not None and np.asarray(img.dataobj).any()
                                else ": no significant cluster")))
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    return fig


def cluster_session_values(roi: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """Each subject's value of the analysis' effect in each cluster and session.

    ``weights`` combine the video types into the analysis' effect (e.g. {HE: .5, LE: .5}
    for mean(HE, LE)). Only the subjects the analysis used are kept.
    """
    keys = ["contrast", "cluster_id", "peak_label", "group", "subject", "session"]
    if roi.empty:
        return pd.DataFrame(columns=[*keys, "value"])
    used = roi[roi["in_analysis"].astype(bool)].copy()
    used["value"] = used["effect"] * used["video_type"].map(weights).fillna(0.0)
    return used.groupby(keys, as_index=False)["value"].sum()


def cluster_changes(roi: pd.DataFrame, weights: Mapping[str, float],
                    periods: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Each subject's change of the analysis' effect in each cluster, per change period
    (``periods``: name -> the two sessions it spans, earlier first)."""
    columns = ["contrast", "cluster_id", "peak_label", "group", "subject", "change", "period"]
    values = cluster_session_values(roi, weights)
    if values.empty:
        return pd.DataFrame(columns=columns)
    effect = values.set_index(columns[:5] + ["session"])["value"].unstack("session")
    out = []
    for period, (first, second) in periods.items():
        change = (effect[second] - effect[first]).rename("change")
        out.append(change.reset_index().assign(period=period))
    return pd.concat(out, ignore_index=True)


def _no_cluster_axes(ax: plt.Axes, text: str = "no FWE-significant cluster") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def cluster_titles(clusters: pd.DataFrame) -> dict[tuple[str, int], str]:
    """Panel title per (contrast, cluster_id) of a clusters.tsv: the peak region in words,
    the peak's MNI coordinates (mm), the contrast and the cluster number."""
    return {(row.contrast, int(row.cluster_id)):
            f"{region_with_peak(row.peak_label, row.peak_x, row.peak_y, row.peak_z)}\n"
            f"{row.contrast}, cluster {row.cluster_id}" for row in clusters.itertuples()}


def _title(titles: Mapping[tuple[str, int], str] | None, cluster: pd.Series) -> str:
    key = (cluster.contrast, int(cluster.cluster_id))
    return (titles or {}).get(key, f"{readable_region(cluster.peak_label)}\n"
                                   f"{cluster.contrast}, cluster {cluster.cluster_id}")


def plot_cluster_sessions(values: pd.DataFrame, groups: Mapping[str, str],
                          sessions: Sequence[str], title: str,
                          titles: Mapping[tuple[str, int], str] | None = None) -> plt.Figure:
    """Figure 3B as in the paper: per significant cluster, each group's mean value of the
    analysed effect in each session, +- SEM over subjects; n per group in the legend."""
    colours = group_colours(groups)
    spread = 0.06 * (len(groups) - 1)
    offsets = np.linspace(-spread, spread, len(groups)) if len(groups) > 1 else [0.0]
    clusters = values[["contrast", "cluster_id", "peak_label"]].drop_duplicates()
    n = max(len(clusters), 1)
    fig, axes = plt.subplots(1, n, figsize=(min(2.2 * n + 0.8, 7.2 * 1.5), 2.8),
                             squeeze=False, sharey=True)
    if clusters.empty:
        _no_cluster_axes(axes[0][0])
    for ax, (_, cluster) in zip(axes[0], clusters.iterrows()):
        sel = values[(values.contrast == cluster.contrast)
                     & (values.cluster_id == cluster.cluster_id)]
        for offset, group in zip(offsets, groups.values()):
            rows = sel[sel["group"] == group]
            if rows.empty:
                continue
            stats = mean_sem(rows.set_index("session")["value"], "session").reindex(sessions)
            ax.errorbar(np.arange(len(sessions)) + offset, stats["mean"], yerr=stats["sem"],
                        marker="o", markersize=3, capsize=2, linewidth=1.2,
                        color=colours[group],
                        label=f"{group} (n = {rows['subject'].nunique()})")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(range(len(sessions)))
        ax.set_xticklabels(sessions)
        ax.set_title(_title(titles, cluster), fontsize=8)
    axes[0][0].set_ylabel("Effect (% signal), mean ± SEM")
    if not clusters.empty:
        axes[0][-1].legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sample_label(sidecar: Mapping, groups: Mapping[str, str]) -> str:
    """"n = 17 (Affect 10, Memory 7)" from a group-level sidecar (roles -> group labels)."""
    per_group = sidecar.get("NPerGroup") or {sidecar.get("Group"): sidecar["N"]}
    parts = ", ".join(f"{groups.get(role, role)} {n}" for role, n in per_group.items())
    return f"n = {sidecar['N']} ({parts})"


def period_sample_label(sidecars: Sequence[Mapping], groups: Mapping[str, str]) -> str:
    """The sample of the analyses of one change period: their common
    :func:`sample_label`, or the labels joined by " / " when the analyses' n differ."""
    labels = list(dict.fromkeys(sample_label(s, groups) for s in sidecars))
    return " / ".join(labels) or "no analysis"


def positive_part(img: nib.Nifti1Image) -> nib.Nifti1Image:
    """``img`` with its negative values (and NaN) set to 0: the side a one-sided test uses."""
    data = np.nan_to_num(np.asarray(img.dataobj, dtype=np.float32))
    return nib.Nifti1Image(np.where(data > 0, data, 0).astype(np.float32), img.affine)


def plot_stat_maps(t_img: nib.Nifti1Image, fwe_img: nib.Nifti1Image, t_threshold: float,
                   title: str, statistic: str = "t", test: str = "cluster-forming") -> plt.Figure:
    """A contrast's FWE-significant clusters on a glass brain, and its one-sided statistic
    above its threshold on axial slices. With nothing above the threshold the figure
    says so in words instead of drawing empty slices."""
    from nilearn import plotting

    shown = positive_part(t_img)
    above = bool((np.asarray(shown.dataobj) > t_threshold).any())
    significant = bool(np.nan_to_num(np.asarray(fwe_img.dataobj)).any())
    fig = plt.figure(figsize=(7.2, 4.6 if above else 2.4))
    top = fig.add_axes((0, 0.5, 1, 0.45) if above else (0, 0.2, 1, 0.75))
    plotting.plot_glass_brain(positive_part(fwe_img) if significant else None, axes=top,
                              display_mode="lzry", colorbar=significant, cmap="inferno",
                              plot_abs=False,
                              title=f"{title}: FWE-significant clusters ({statistic})"
                                    + ("" if significant else ": none"))
    if above:
        bottom = fig.add_axes((0, 0.0, 1, 0.45))
        plotting.plot_stat_map(shown, axes=bottom, display_mode="z", cut_coords=7,
                               threshold=t_threshold, cmap="inferno", colorbar=True,
                               title=f"{statistic} > {t_threshold:.2f} ({test}, one-sided)")
    else:
        fig.text(0.5, 0.06, f"No voxel has {statistic} > {t_threshold:.2f} ({test}, "
                 "one-sided).", ha="center", fontsize=9)
    return fig


def plot_conjunction(min_z: nib.Nifti1Image, title: str, alpha: float) -> plt.Figure:
    """The conjunction's minimum z where every analysis is voxel-FWE significant, or a
    sentence saying that no voxel is."""
    from nilearn import plotting

    data = np.nan_to_num(np.asarray(min_z.dataobj))
    if not data.any():
        fig = plt.figure(figsize=(7.2, 1.0))
        fig.text(0.5, 0.5, f"{title}: no voxel is significant in every analysis "
                 f"(voxel-FWE p < {alpha}).", ha="center", va="center", fontsize=10)
        return fig
    fig = plt.figure(figsize=(7.2, 4.6))
    plotting.plot_glass_brain(positive_part(min_z), axes=fig.add_axes((0, 0.5, 1, 0.45)),
                              display_mode="lzry", colorbar=True, cmap="inferno",
                              plot_abs=False, title=f"{title}: minimum z")
    peak = np.unravel_index(np.argmax(data), data.shape)
    x, y, z = nib.affines.apply_affine(min_z.affine, peak)
    plotting.plot_stat_map(positive_part(min_z), axes=fig.add_axes((0, 0.0, 1, 0.45)),
                           display_mode="ortho", cut_coords=(x, y, z), cmap="inferno",
                           colorbar=True, threshold=1e-6,
                           title=f"minimum z at the peak ({x:.0f}, {y:.0f}, {z:.0f})")
    return fig


def plot_brain_behaviour(points: pd.DataFrame, score_label: str,
                         titles: Mapping[tuple[str, int], str] | None = None,
                         colour: str = GROUP_COLOURS[0]) -> plt.Figure:
    """Per significant parametric cluster: delta of the cluster mean against the score."""
    clusters = points[["contrast", "cluster_id", "peak_label"]].drop_duplicates()
    n = max(len(clusters), 1)
    fig, axes = plt.subplots(1, n, figsize=(min(2.6 * n, 10.8), 2.6), squeeze=False)
    if clusters.empty:
        _no_cluster_axes(axes[0][0])
    for ax, (_, cluster) in zip(axes[0], clusters.iterrows()):
        sel = points[(points.contrast == cluster.contrast)
                     & (points.cluster_id == cluster.cluster_id)]
        ax.scatter(sel["score"], sel["change"], s=14, color=colour)
        slope, intercept = np.polyfit(sel["score"], sel["change"], 1)
        xs = np.linspace(sel["score"].min(), sel["score"].max(), 2)
        ax.plot(xs, intercept + slope * xs, color="black", linewidth=1)
        r = np.corrcoef(sel["score"], sel["change"])[0, 1]
        ax.set_title(f"{_title(titles, cluster)}\nr = {r:.2f}, n = {len(sel)}",
                     fontsize=8)
        ax.set_xlabel(score_label)
        ax.set_ylabel("Effect change (% signal)")
    fig.tight_layout()
    return fig


def plot_motion_qc(runs: pd.DataFrame, sessions: Sequence[str], fd_limit: float) -> plt.Figure:
    """QC: mean framewise displacement and tSNR per run by session, excluded runs marked."""
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.6))
    rng = np.random.default_rng(0)  # jitter only, fixed so the figure is reproducible
    for ax, column, label in ((axes[0], "mean_fd", "Mean FD (mm)"),
                              (axes[1], "tsnr", "tSNR (mean / sd)")):
        for i, session in enumerate(sessions):
            sel = runs[runs.session == session]
            x = i + rng.uniform(-0.15, 0.15, len(sel))
            excluded = sel["excluded"].astype(bool).to_numpy()
            ax.scatter(x[~excluded], sel[column][~excluded], s=12, color=OKABE_ITO["blue"],
                       label="included" if i == 0 else None)
            ax.scatter(x[excluded], sel[column][excluded], s=28, marker="x",
                       color=OKABE_ITO["vermillion"], label="excluded" if i == 0 else None)
        _session_axis(ax, sessions)
        ax.set_xlabel("Session")
        ax.set_ylabel(label)
    axes[0].axhline(fd_limit, color=OKABE_ITO["grey"], linestyle=":", linewidth=1)
    axes[0].text(len(sessions) - 0.75, fd_limit, f" limit {fd_limit} mm", va="bottom",
                 ha="right", fontsize=7, color=OKABE_ITO["grey"])
    axes[0].legend(frameon=False)
    fig.tight_layout()
    return fig


def plot_session_design(design: pd.DataFrame, run_column: str = "run") -> plt.Figure:
    """nilearn's design-matrix plot of one session's GLM, one panel per run.

    Parameters
    ----------
    design : pandas.DataFrame
        The session's design table: one run's design, or the runs' designs stacked with
        a ``run_column`` (columns a run lacks filled with zeros).
    run_column : str
        The column naming each row's run.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per run, each with the columns of that run's own design matrix (the
        runs are fitted with their own designs); a column that is zero in every run, a
        broken regressor, is shown.
    """
    from nilearn.plotting import plot_design_matrix

    if run_column not in design:
        runs = [(None, design)]
    else:
        runs = list(design.drop(columns=run_column).groupby(design[run_column], sort=False))
    somewhere = (design != 0).any()
    width = max(4.5, 0.16 * max(len(rows.columns) for _, rows in runs))  # room for labels
    fig, axes = plt.subplots(1, len(runs), figsize=(width * len(runs), 5), squeeze=False)
    for ax, (run, rows) in zip(axes[0], runs):
        # zeros in a column non-zero in another run are the stacking's fill, not the run's
        own = (rows != 0).any() | (run is None) | ~somewhere[rows.columns]
        plot_design_matrix(rows.loc[:, own], axes=ax)
        if run is not None:
            ax.set_title(run, fontsize=8)
    return fig
