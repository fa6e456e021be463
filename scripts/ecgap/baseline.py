"""The naive baseline of ``make bench``: the plain sequential script a researcher would
otherwise write with nilearn for the same study, on the same BIDS + fMRIPrep data and
settings as the workflow.

It loops over the runs (nilearn ``load_confounds`` with scrubbing, ``FirstLevelModel``,
the four SoVT contrasts), excludes runs by the same motion limits, forms each subject's
change maps (delta1 = Post1 - Pre, delta2 = Post2 - Post1), then runs every group analysis
(affect vs memory, centred covariates) and every brain-behaviour regression with nilearn's
``non_parametric_inference`` (cluster-size FWE), one after the other. It is deliberately
not optimised: it is what the workflow is measured against, not part of it.

    python -m ecgap.baseline --root results/simulated --config config.yaml --out naive/
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import yaml
from nilearn.glm.first_level import FirstLevelModel
from nilearn.glm.second_level import non_parametric_inference
from nilearn.image import math_img
from nilearn.interfaces.fmriprep import load_confounds
from nilearn.masking import intersect_masks

CONTRASTS = {"HE": "HE", "LE": "LE", "HEMinusLE": "HE - LE", "meanHELE": "0.5*HE + 0.5*LE"}
DELTAS = {"delta1": ("pre", "post1"), "delta2": ("post1", "post2")}


def save_float32(img: nib.Nifti1Image, path: Path) -> None:
    """Write a map as float32, as the workflow does (nilearn's maps carry the mask
    header's integer type otherwise)."""
    img.set_data_dtype(np.float32)
    img.to_filename(str(path))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True,
                        help="folder with bids/ and derivatives/fmriprep/")
    parser.add_argument("--config", type=Path, required=True, help="validated ecgap config")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    pre, fl, group = config["preprocess"], config["first_level"], config["second_level"]
    bids, fmriprep, out = args.root / "bids", args.root / "derivatives" / "fmriprep", args.out
    out.mkdir(parents=True, exist_ok=True)
    participants = pd.read_csv(bids / "participants.tsv", sep="\t")
    participants["subject"] = participants["participant_id"].str[4:]
    start = time.perf_counter()

    # First level, one run after the other.
    effects, masks, excluded, ratings = {}, [], set(), []
    for subject in participants["subject"]:
        for session in ("pre", "post1", "post2"):
            stem = f"sub-{subject}_ses-{session}_task-sovt"
            func = fmriprep / f"sub-{subject}" / f"ses-{session}" / "func"
            bold = func / f"{stem}_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
            mask = func / f"{stem}_space-MNI152NLin2009cAsym_desc-brain_mask.nii.gz"
            events = pd.read_csv(bids / f"sub-{subject}" / f"ses-{session}" / "func"
                                 / f"{stem}_events.tsv", sep="\t")
            videos = events[events["trial_type"].isin(["HE", "LE"])]
            ratings.append({"subject": subject, "session": session,
                            **videos[["empathy", "positive_affect", "negative_affect"]]
                            .astype(float).mean().to_dict()})
            confounds, sample_mask = load_confounds(
                str(bold), strategy=tuple(pre["confounds"]["strategy"]) + ("scrub",),
                motion=pre["confounds"]["motion"], wm_csf=pre["confounds"]["wm_csf"],
                scrub=pre["scrub_min_segment"], fd_threshold=pre["fd_threshold"],
                std_dvars_threshold=pre["std_dvars_threshold"])
            n_volumes = nib.load(bold).shape[-1]
            fd = pd.read_csv(func / f"{stem}_desc-confounds_timeseries.tsv",
                             sep="\t")["framewise_displacement"]
            kept = n_volumes if sample_mask is None else len(sample_mask)
            if fd.mean() > pre["max_mean_fd"] or 1 - kept / n_volumes > pre["max_scrubbed_fraction"]:
                excluded.add((subject, session))
                continue
            model = FirstLevelModel(
                t_r=config["simulate"]["tr"], hrf_model=fl["hrf_model"], drift_model=None,
                noise_model=fl["noise_model"], smoothing_fwhm=fl["smoothing_fwhm"],
                mask_img=str(mask), minimize_memory=True, signal_scaling=0)
            model.fit(str(bold), events=events[["onset", "duration", "trial_type"]],
                      confounds=confounds, sample_masks=sample_mask)
            for name, expression in CONTRASTS.items():
                effect = model.compute_contrast(expression, output_type="effect_size")
                save_float32(effect, out / f"{stem}_contrast-{name}_effect.nii.gz")
                effects[subject, session, name] = effect
            masks.append(str(mask))
    group_mask = intersect_masks(masks, threshold=1)
    first_level_s = time.perf_counter() - start

    # Change maps and covariates.
    covariates = participants[["subject", "group", *config["data"]["covariates"]]]
    ratings = pd.DataFrame(ratings).set_index(["subject", "session"])

    def changes(delta, contrast, subjects):
        before, after = DELTAS[delta]
        keep = [s for s in subjects if (s, before) not in excluded and (s, after) not in excluded]
        maps = [math_img("b - a", a=effects[s, before, contrast], b=effects[s, after, contrast])
                for s in keep]
        return keep, maps

    # Group analyses: affect vs memory, both directions, one permutation test each.
    for analysis in group["analyses"]:
        subjects, maps = changes(analysis["delta"], analysis["contrast"],
                                 list(participants["subject"]))
        rows = covariates.set_index("subject").loc[subjects]
        design = pd.DataFrame({"affect": (rows["group"] == "affect").astype(float),
                               "memory": (rows["group"] == "memory").astype(float)})
        for column in config["data"]["covariates"]:
            design[column] = rows[column] - rows[column].mean()
        for name, weights in {"affectGtMemory": [1, -1], "memoryGtAffect": [-1, 1]}.items():
            contrast = weights + [0] * len(config["data"]["covariates"])
            result = non_parametric_inference(
                maps, design_matrix=design.reset_index(drop=True),
                second_level_contrast=contrast, mask=group_mask,
                n_perm=group["n_permutations"], two_sided_test=False,
                random_state=group["seed"], n_jobs=args.n_jobs,
                threshold=group["cluster_forming_p"], verbose=0)
            save_float32(result["logp_max_size"],
                         out / f"{analysis['name']}_{name}_logp_max_size.nii.gz")

    # Brain-behaviour: the change map regressed on a score within the affect group.
    affect = list(participants.loc[participants["group"] == "affect", "subject"])
    bb_covariates = config["brain_behaviour"]["covariates"]
    if bb_covariates is None:
        bb_covariates = config["data"]["covariates"]
    for analysis in config["brain_behaviour"]["analyses"]:
        subjects, maps = changes(analysis["delta"], analysis["contrast"], affect)
        score = analysis["score"]
        if score["measure"] in ratings.columns:
            before, after = DELTAS[score["delta"]]
            values = [ratings.loc[(s, after), score["measure"]]
                      - ratings.loc[(s, before), score["measure"]] for s in subjects]
        else:
            values = participants.set_index("subject").loc[subjects, score["measure"]]
        design = pd.DataFrame({"intercept": 1.0, "score": np.asarray(values, float)})
        for column in bb_covariates:
            raw = participants.set_index("subject").loc[subjects, column].to_numpy(float)
            design[column] = raw - raw.mean()
        padding = [0] * len(bb_covariates)
        for name, sign in {"positiveSlope": 1, "negativeSlope": -1}.items():
            result = non_parametric_inference(
                maps, design_matrix=design, second_level_contrast=[0, sign, *padding],
                mask=group_mask, n_perm=group["n_permutations"], two_sided_test=False,
                random_state=group["seed"], n_jobs=args.n_jobs,
                threshold=group["cluster_forming_p"], verbose=0)
            save_float32(result["logp_max_size"],
                         out / f"{analysis['name']}_{name}_logp_max_size.nii.gz")
    total_s = time.perf_counter() - start
    print(f"first level {first_level_s:.1f} s, total {total_s:.1f} s, "
          f"{len(excluded)} runs excluded")


if __name__ == "__main__":
    main()
