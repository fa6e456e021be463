"""Rule brain_behaviour: a change map regressed on a behavioural score within one group."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.brain_behaviour import SLOPE_CONTRASTS, behaviour_score, regression_design
from ecgap.design import Design, Score
from ecgap.io import read_tsv, write_json, write_tsv
from ecgap.second_level import (Inference, analyse_contrasts, complete_covariates, contrast_vector,
                                included_subjects, inference_sidecar,
                                save_design_figure, write_contrast_results)
from ecgap.provenance import software_versions
from ecgap.snake import run


def main(smk):
    p = smk.params
    analysis, design, score_spec = p.analysis, Design.from_dict(p.design), Score(**p.score)
    score_label = design.score_label(score_spec)
    participants = read_tsv(smk.input.participants, dtype={"subject": str})
    participants = participants[participants["subject"].isin(p.subjects)
                                & (participants["role"] == p.role)]
    exclusions = read_tsv(smk.input.exclusions, dtype={"subject": str, "session": str})
    kept, dropped = included_subjects(participants, exclusions,
                                      design.period_sessions(analysis["delta"]))
    kept, no_covariate = complete_covariates(kept, p.covariates)
    ratings = read_tsv(smk.input.ratings, dtype={"subject": str})
    score = behaviour_score(score_spec, ratings, participants, design)
    # An n/a score (a practice time not recorded) leaves the subject out, as an n/a covariate.
    no_score = sorted(set(kept["subject"]) - set(score.dropna().index))
    kept = kept[~kept["subject"].isin(no_score)]
    design = regression_design(kept, score, p.covariates)
    map_of = dict(zip(p.subjects, smk.input.maps))
    maps = [nib.load(map_of[s]) for s in design.index]
    settings = Inference(n_jobs=smk.threads, memory_mb=smk.resources.mem_mb / 2, **p.inference)
    contrasts = {name: contrast_vector(design, {"score": sign})
                 for name, sign in SLOPE_CONTRASTS.items()}
    logging.info("%s: %s change map vs %s, %s group, n = %d, dropped by QC: %s",
                 analysis["name"], analysis["delta"], score_label,
                 p.role, len(design), dropped or "none")
    results = analyse_contrasts(maps, design, contrasts, nib.load(smk.input.mask), settings)
    table = write_contrast_results(results, smk.output.maps, smk.output.cluster_labels)
    logging.info("%d clusters, %d FWE-significant", len(table), int(table["significant"].sum()))
    write_tsv(table, smk.output.clusters)
    write_tsv(design.rename_axis("subject").reset_index(), smk.output.design)
    save_design_figure(design, smk.output.design_figure)
    write_json({"SoftwareVersions": software_versions(),
                "Analysis": analysis, "Score": score_label,
                "Group": p.role, "N": len(design), "DroppedByQC": dropped,
                "DroppedMissingCovariate": no_covariate, "DroppedMissingScore": no_score,
                "DroppedMissingSession": list(p.lacking_session),
                "Covariates": list(p.covariates), "CovariatesCentred": True,
                "ScoreCentred": True, **inference_sidecar(settings, design)},
               smk.output.sidecar)


run(snakemake, main)  # noqa: F821
