"""Rule second_level: one group model (affect vs memory) with permutation inference."""

import logging
import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pandas as pd
from nilearn.plotting import plot_design_matrix

from ecgap.io import atomic_path, read_tsv, save_nifti, write_json, write_tsv
from ecgap.second_level import (CONNECTIVITY, GROUP_CONTRASTS, Inference, cluster_table,
                                cluster_threshold_t, contrast_images, contrast_vector,
                                delta_sessions, fwe_cluster_map, group_design, group_model,
                                included_subjects, load_aal3, permutation_maps)
from ecgap.snake import run


def main(smk):
    p = smk.params
    analysis = p.analysis
    participants = read_tsv(smk.input.participants, dtype={"subject": str})
    participants = participants[participants["subject"].isin(p.subjects)]
    exclusions = read_tsv(smk.input.exclusions, dtype={"subject": str, "session": str})
    kept, dropped = included_subjects(participants, exclusions,
                                      delta_sessions(analysis["delta"], p.sessions))
    map_of = dict(zip(p.subjects, smk.input.maps))
    maps = [nib.load(map_of[s]) for s in kept["subject"]]
    design = group_design(kept, p.covariates)
    mask = nib.load(smk.input.mask)
    settings = Inference(n_jobs=smk.threads, **p.inference)
    df = len(design) - np.linalg.matrix_rank(design.to_numpy())
    t_cf = cluster_threshold_t(settings.cluster_forming_p, df)
    logging.info("%s: n = %d (%s), dropped by QC: %s; df = %d, cluster-forming t = %.3f",
                 analysis["name"], len(kept), kept["role"].value_counts().to_dict(),
                 dropped or "none", df, t_cf)
    model = group_model(maps, design, mask)
    atlas = load_aal3()
    tables = []
    outputs = {path.split("_contrast-")[1].split("_statmap")[0]: path for path in smk.output.maps}
    for name, (w_affect, w_memory) in GROUP_CONTRASTS.items():
        contrast = contrast_vector(design, {"affect": w_affect, "memory": w_memory})
        para = contrast_images(model, contrast)
        perm = permutation_maps(maps, design, contrast, mask, settings)
        images = {"t": perm["t"], "z": para["z"], "logpFWEvoxel": perm["logp_max_t"],
                  "logpFWEsize": perm["logp_max_size"], "logpFWEmass": perm["logp_max_mass"],
                  "FWEcluster": fwe_cluster_map(perm["t"], perm["logp_max_size"],
                                                settings.alpha)}
        for stat, img in images.items():
            key = f"{name}_desc-FWEcluster_stat-t" if stat == "FWEcluster" else f"{name}_stat-{stat}"
            save_nifti(img, outputs[key])
        table = cluster_table(perm["t"], para["z"], perm["logp_max_size"],
                              perm["logp_max_mass"], t_cf, atlas)
        table.insert(0, "contrast", name)
        table["significant"] = table["p_fwe_size"] < settings.alpha
        tables.append(table)
        logging.info("%s: %d clusters, %d FWE-significant", name, len(table),
                     int(table["significant"].sum()))
    write_tsv(pd.concat(tables, ignore_index=True), smk.output.clusters)
    write_tsv(design.rename_axis("subject").reset_index(), smk.output.design)
    with atomic_path(smk.output.design_figure, suffix=".png") as tmp:
        ax = plot_design_matrix(design)
        ax.figure.savefig(tmp, dpi=100, bbox_inches="tight")
        plt.close(ax.figure)
    write_json({"Analysis": analysis, "N": len(kept),
                "NPerGroup": kept["role"].value_counts().to_dict(),
                "DroppedByQC": dropped, "Covariates": list(p.covariates),
                "CovariatesCentred": True, "DegreesOfFreedom": int(df),
                "Permutations": settings.n_permutations, "Seed": settings.seed,
                "ClusterFormingP": settings.cluster_forming_p,
                "ClusterFormingT": t_cf, "Alpha": settings.alpha, "Test": "one-sided",
                "Connectivity": CONNECTIVITY, "ModelIntercept": False},
               smk.output.sidecar)


run(snakemake, main)  # noqa: F821
