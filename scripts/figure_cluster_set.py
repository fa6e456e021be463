"""Rule figure_group / figure_brain_behaviour: per contrast a glass brain of the
FWE-significant clusters and the z map; the cluster values (Figure 3B bars for a group
analysis, score scatter plots for a brain-behaviour analysis); the cluster table."""

import gc
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.figures import (cluster_changes, group_colours, cluster_session_values,
                           cluster_titles, paths_for, plot_brain_behaviour,
                           plot_cluster_sessions, plot_stat_maps, sample_label, save_figure)
from ecgap.io import read_json, read_tsv, write_json
from ecgap.report import group_summary, write_table_html
from ecgap.snake import run


def main(smk):
    p = smk.params
    clusters = read_tsv(smk.input.clusters)
    sidecar = read_json(smk.input.sidecar)
    n_label = sample_label(sidecar, p.groups)
    for contrast, t_path, fwe_path in zip(p.contrasts, smk.input.t, smk.input.fwe):
        fig = plot_stat_maps(nib.load(t_path), nib.load(fwe_path), sidecar["ClusterFormingT"],
                             f"{p.name}: {p.contrast_labels[contrast]}, {n_label}",
                             test=f"cluster-forming p < {sidecar['ClusterFormingP']}")
        save_figure(fig, paths_for(smk.output.maps, f"contrast-{contrast}_"), p.dpi)
    roi = read_tsv(smk.input.roi, dtype={"subject": str})
    weights, titles = p.weights, cluster_titles(clusters)
    if p.kind == "group":
        fig = plot_cluster_sessions(cluster_session_values(roi, weights), p.groups,
                                    p.sessions, f"{p.name}: {p.effect} in each "
                                    "FWE-significant cluster per session", titles)
    else:
        design = read_tsv(smk.input.design, dtype={"subject": str})
        changes = cluster_changes(roi, weights, p.periods)
        points = changes[changes["period"] == p.delta].merge(
            design[["subject", "score"]], on="subject")
        fig = plot_brain_behaviour(points, f"{p.score_label} (centred)", titles,
                                   group_colours(p.groups)[p.groups[p.group]])
    save_figure(fig, smk.output.values, p.dpi)
    write_table_html(clusters, smk.output.table, f"{p.name}: clusters",
                     note=f"Cluster-forming p < {sidecar['ClusterFormingP']} one-sided, "
                          f"{sidecar['Connectivity']}; FWE p from {sidecar['Permutations']} "
                          "permutations (cluster size and mass); significant = size p < "
                          f"{sidecar['Alpha']}.")
    write_json(group_summary(clusters, sidecar, p.contrast_labels), smk.output.summary)


run(snakemake, main)  # noqa: F821
