"""Rule second_level: one group model (the design's groups and their contrasts) with
permutation inference."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.io import read_tsv, write_json, write_tsv
from ecgap.design import Design
from ecgap.second_level import (Inference, analyse_contrasts,
                                complete_covariates,
                                contrast_matrix, f_contrast_sidecar, group_design,
                                included_subjects, inference_sidecar, save_design_figure,
                                write_contrast_results)
from ecgap.provenance import software_versions
from ecgap.snake import run


def main(smk):
    p = smk.params
    analysis, study = p.analysis, Design.from_dict(p.design)
    participants = read_tsv(smk.input.participants, dtype={"subject": str})
    participants = participants[participants["subject"].isin(p.subjects)]
    exclusions = read_tsv(smk.input.exclusions, dtype={"subject": str, "session": str})
    kept, dropped = included_subjects(participants, exclusions,
                                      p.sessions)
    kept, no_covariate = complete_covariates(kept, p.covariates)
    map_of = dict(zip(p.subjects, smk.input.maps))
    maps = [nib.load(map_of[s]) for s in kept["subject"]]
    design = group_design(kept, p.covariates, study.group_names)
    # Half the job's memory for permutation batches; the maps and models need the rest.
    settings = Inference(n_jobs=smk.threads, memory_mb=smk.resources.mem_mb / 2,
                         **p.inference)
    sidecar = inference_sidecar(settings, design)
    logging.info("%s: n = %d (%s), dropped by QC: %s; df = %d, cluster-forming t = %.3f",
                 analysis["name"], len(kept), kept["role"].value_counts().to_dict(),
                 dropped or "none", sidecar["DegreesOfFreedom"], sidecar["ClusterFormingT"])
    contrasts = {c.name: contrast_matrix(design, study.group_names, c.rows)
                 for c in study.group_contrasts}
    results = analyse_contrasts(maps, design, contrasts, nib.load(smk.input.mask), settings)
    # "Test: one-sided" and ClusterFormingT are the t contrasts'; F contrasts add theirs.
    f_rows = {c.name: len(c.rows) for c in study.group_contrasts if c.kind == "F"}
    table = write_contrast_results(results, smk.output.maps, smk.output.cluster_labels)
    for name, result in results.items():
        logging.info("%s: %d clusters, %d FWE-significant", name, len(result.table),
                     int(result.table["significant"].sum()))
    write_tsv(table, smk.output.clusters)
    write_tsv(design.rename_axis("subject").reset_index(), smk.output.design)
    save_design_figure(design, smk.output.design_figure)
    write_json({"SoftwareVersions": software_versions(),
                "Analysis": analysis, "N": len(kept),
                "NPerGroup": kept["role"].value_counts().to_dict(),
                "DroppedByQC": dropped, "DroppedMissingCovariate": no_covariate,
                "DroppedMissingSession": list(p.lacking_session),
                "Covariates": list(p.covariates),
                "CovariatesCentred": True, **sidecar,
                **({"FContrasts": f_contrast_sidecar(settings, design, f_rows)} if f_rows
                   else {})},
               smk.output.sidecar)


run(snakemake, main)  # noqa: F821
