"""Rule first_level: fit one run's GLM and write its contrast maps and design."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from nilearn.plotting import plot_design_matrix

from ecgap.first_level import (FIRST_LEVEL_STATS, GLMSpec, contrast_maps, fit_first_level,
                               first_level_output_name, sovt_contrasts, sovt_events)
from ecgap.ingest import read_events
from ecgap.io import atomic_path, read_tsv, save_nifti, write_json, write_tsv
from ecgap.snake import run


def main(smk):
    p = smk.params
    t_r = float(read_tsv(smk.input.checked)["tr"].iloc[0])
    spec = GLMSpec(t_r=t_r, hrf_model=p.glm["hrf_model"], high_pass=p.glm["high_pass"],
                   noise_model=p.glm["noise_model"],
                   smoothing_fwhm=p.glm["smoothing_fwhm"] or None,
                   # Cosines already in the confounds (fMRIPrep's high_pass): no second set.
                   drift_model=None if p.cosine_in_confounds else "cosine")
    events = sovt_events(read_events(Path(smk.input.events)), p.trial_types, p.ratings,
                         p.parametric)
    confounds = read_tsv(smk.input.confounds)
    model = fit_first_level(smk.input.bold, smk.input.mask, events, confounds, spec)
    contrasts = sovt_contrasts(p.parametric, list(p.ratings))
    maps = contrast_maps(model, {name: contrasts[name] for name in p.contrasts})
    for contrast in p.contrasts:
        for stat in FIRST_LEVEL_STATS:
            save_nifti(maps[contrast][stat], smk.output[first_level_output_name(contrast, stat)])
    design = model.design_matrices_[0]
    write_tsv(design, smk.output.design)
    with atomic_path(smk.output.design_figure, suffix=".png") as tmp:
        ax = plot_design_matrix(design)
        ax.figure.savefig(tmp, dpi=100, bbox_inches="tight")
        plt.close(ax.figure)
    write_json({"RepetitionTime": t_r, "HRFModel": spec.hrf_model,
                "DriftModel": spec.drift_model, "HighPass": spec.high_pass,
                "NoiseModel": spec.noise_model, "SmoothingFWHM": spec.smoothing_fwhm,
                "SignalScaling": "percent signal change (mean of each voxel)",
                "Contrasts": {n: contrasts[n] for n in p.contrasts},
                "Confounds": list(confounds.columns)}, smk.output.sidecar)
    if "report" in smk.output.keys():
        report = model.generate_report(contrasts={n: contrasts[n] for n in p.contrasts},
                                       title=f"sub-{smk.wildcards.subject} "
                                             f"ses-{smk.wildcards.session}")
        with atomic_path(smk.output.report, suffix=".html") as tmp:
            report.save_as_html(str(tmp))
    logging.info("fitted %d volumes, %d regressors", design.shape[0], design.shape[1])


run(snakemake, main)  # noqa: F821
