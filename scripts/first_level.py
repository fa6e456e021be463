"""Rule first_level: fit one session's GLM over its runs; write contrast maps and design."""

import gc
import logging
import sys
from pathlib import Path

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from nilearn.masking import intersect_masks

from ecgap.first_level import (FIRST_LEVEL_STATS, NILEARN_DRIFT, GLMSpec, contrast_maps,
                               fit_first_level, first_level_output_name, high_pass_record,
                               ignored_trial_types, model_events, session_runs,
                               stacked_designs)
from ecgap.design import Design
from ecgap.ingest import read_events
from ecgap.io import atomic_path, read_tsv, save_nifti, write_json, write_tsv
from ecgap.provenance import software_versions
from ecgap.snake import run


def main(smk):
    p = smk.params
    runs = session_runs(p.runs, smk.input.checked, smk.input.qc)
    kept = runs[runs["modelled"]]
    spec = GLMSpec(t_r=float(kept["tr"].iloc[0]), hrf_model=p.glm["hrf_model"],
                   high_pass=p.glm["high_pass"], noise_model=p.glm["noise_model"],
                   smoothing_fwhm=p.glm["smoothing_fwhm"] or None,
                   slice_time_ref=float(kept["slice_time_ref"].iloc[0]),
                   drift_model=NILEARN_DRIFT[p.glm["drift_model"]])
    index = list(kept.index)
    raw_events = [read_events(Path(smk.input.events[i])) for i in index]
    study = Design.from_dict(p.model)
    events = [model_events(e, study, p.parametric) for e in raw_events]
    confounds = [read_tsv(smk.input.confounds[i]) for i in index]
    bolds = [smk.input.bold[i] for i in index]
    masks = [smk.input.mask[i] for i in index]
    if len(index) == 1:
        model = fit_first_level(bolds[0], masks[0], events[0], confounds[0], spec)
    else:
        mask = intersect_masks(masks, threshold=1, connected=False)
        model = fit_first_level(bolds, mask, events, confounds, spec)
    contrasts = study.first_level_contrasts(p.parametric)
    maps = contrast_maps(model, {name: contrasts[name] for name in p.contrasts})
    for contrast in p.contrasts:
        for stat in FIRST_LEVEL_STATS:
            save_nifti(maps[contrast][stat], smk.output[first_level_output_name(contrast, stat)])
    design = stacked_designs(model.design_matrices_, list(kept["run_id"]))
    write_tsv(design, smk.output.design)
    ignored = sorted({t for e in raw_events for t in ignored_trial_types(e, study)})
    write_json({"SoftwareVersions": software_versions(),
                "RepetitionTime": spec.t_r, "SliceTimeRef": spec.slice_time_ref,
                "HRFModel": spec.hrf_model,
                **high_pass_record(model.design_matrices_, spec.t_r, p.glm["drift_model"],
                                   spec.high_pass),
                "NoiseModel": spec.noise_model,
                "SmoothingFWHM": spec.smoothing_fwhm,
                "SignalScaling": "percent signal change (mean of each voxel)",
                "Runs": list(kept["run_id"]),
                "RunsExcludedByQC": list(runs.loc[~runs["modelled"], "run_id"]),
                "IgnoredTrialTypes": ignored,
                "Contrasts": {n: contrasts[n] for n in p.contrasts},
                "Confounds": list(confounds[0].columns)}, smk.output.sidecar)
    if "report" in smk.output.keys():
        report = model.generate_report(contrasts={n: contrasts[n] for n in p.contrasts},
                                       title=f"sub-{smk.wildcards.subject} "
                                             f"ses-{smk.wildcards.session}")
        with atomic_path(smk.output.report, suffix=".html") as tmp:
            report.save_as_html(str(tmp))
    logging.info("fitted %s: %s volumes, %d regressors; ignored trial types: %s",
                 ", ".join(kept["run_id"]), "+".join(str(len(d)) for d in
                                                     model.design_matrices_),
                 design.shape[1], ", ".join(ignored) or "none")


run(snakemake, main)  # noqa: F821
