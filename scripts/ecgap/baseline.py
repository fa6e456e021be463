"""The naive baseline of ``make bench``: the plain sequential script a researcher would
otherwise write for the same study, on the same BIDS + fMRIPrep data and settings.

It computes what the workflow computes up to its group-level tables, in one process,
one step after the other:

- **First level**, written plainly with nilearn and fitting the workflow's model: the
  configured video and rating trial types (fixation is the baseline), nilearn's
  ``load_confounds`` with the configured strategy plus one spike regressor per scrubbed
  volume, the configured drift (fMRIPrep's cosines by default), HRF, noise model and
  smoothing, the BOLD series read as float32 (as the workflow models it); every run is
  fitted, and the sessions the motion limits exclude are left out of the group
  analyses.
- **Change maps** (Post1 - Pre, Post2 - Post1) and the group mask of the runs kept.
- **Every group analysis and brain-behaviour regression** with the workflow's own
  analysis function (``ecgap.second_level.analyse_contrasts``: parametric z, permutation
  t and voxel, cluster-size and cluster-mass FWE, cluster tables), with nilearn's
  permutations (``--engine nilearn``) or ecgap's (``--engine ecgap``), or both in turn
  on the same first level (``--engine nilearn ecgap``; their maps go to ``out/<engine>``).

The workflow's advantage over either is measured on the same computation (with
``--n-jobs 1`` nilearn draws ecgap's permutations and the maps are equal; with more jobs
it draws others, as many). Scope: the layout of ecgap's simulated study (one run per
session, every session present, fMRIPrep's ``std_dvars`` column).

    python -m ecgap.baseline --root results/simulated --config config.yaml --out naive/
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Sequence

import nibabel as nib
import numpy as np
import pandas as pd
import yaml
from nilearn.glm.first_level import FirstLevelModel
from nilearn.interfaces.fmriprep import load_confounds

from ecgap.brain_behaviour import behaviour_score, regression_design
from ecgap.config import design_from_config
from ecgap.design import SLOPE_CONTRASTS, Design
from ecgap.ingest import slice_time_reference
from ecgap.io import save_nifti
from ecgap.second_level import (Inference, analyse_contrasts, contrast_vector, group_design,
                                group_mask, load_aal3)


#: The second_level settings every group-level analysis passes to its inference.
INFERENCE_KEYS = ("n_permutations", "cluster_forming_p", "alpha", "seed", "connectivity")


def run_confounds(bold: Path, prep: dict) -> tuple[pd.DataFrame, float]:
    """The configured confounds plus one spike regressor per scrubbed volume, and the
    scrubbed fraction."""
    spec = prep["confounds"]
    confounds, sample_mask = load_confounds(
        str(bold), strategy=tuple(spec["strategy"]) + ("scrub",), motion=spec["motion"],
        wm_csf=spec["wm_csf"], global_signal=spec["global_signal"], compcor=spec["compcor"],
        n_compcor=spec["n_compcor"], scrub=prep["scrub_min_segment"],
        fd_threshold=prep["fd_threshold"],
        std_dvars_threshold=(np.inf if prep["std_dvars_threshold"] is None
                             else prep["std_dvars_threshold"]))
    n_vols = len(confounds)
    kept = np.arange(n_vols) if sample_mask is None else np.asarray(sample_mask)
    scrubbed = np.setdiff1d(np.arange(n_vols), kept)
    for i, volume in enumerate(scrubbed):
        confounds[f"scrub{i:03d}"] = (np.arange(n_vols) == volume).astype(float)
    return confounds, len(scrubbed) / n_vols


def fit_run(func: Path, stem: str, events: pd.DataFrame, config: dict,
            space: str) -> tuple[dict[str, nib.Nifti1Image], bool, str]:
    """One run's contrast effect maps, whether the motion limits exclude it, its mask."""
    prep, fl = config["preprocess"], config["first_level"]
    bold = func / f"{stem}_space-{space}_desc-preproc_bold.nii.gz"
    mask = func / f"{stem}_space-{space}_desc-brain_mask.nii.gz"
    confounds, scrubbed = run_confounds(bold, prep)
    fd = pd.read_csv(func / f"{stem}_desc-confounds_timeseries.tsv", sep="\t",
                     na_values=["n/a"])["framewise_displacement"]
    excluded = fd.mean() > prep["max_mean_fd"] or scrubbed > prep["max_scrubbed_fraction"]
    sidecar = json.loads(bold.with_name(bold.name.replace(".nii.gz", ".json")).read_text())
    tr = sidecar["RepetitionTime"]
    model = FirstLevelModel(
        t_r=tr, slice_time_ref=slice_time_reference(sidecar, tr), hrf_model=fl["hrf_model"],
        drift_model="cosine" if fl["drift_model"] == "cosine" else None,
        high_pass=fl["high_pass"], noise_model=fl["noise_model"],
        smoothing_fwhm=fl["smoothing_fwhm"] or None, mask_img=str(mask),
        minimize_memory=True, signal_scaling=0)
    study = Design.of_study(config["design"])
    names = study.modelled_trial_types()
    modelled = events[events["trial_type"].isin(names)].assign(
        trial_type=lambda e: e["trial_type"].map(names))
    stored = nib.load(bold)
    series = nib.Nifti1Image(stored.get_fdata(dtype=np.float32), stored.affine)
    model.fit(series, events=modelled[["onset", "duration", "trial_type"]],
              confounds=confounds)
    maps = {name: model.compute_contrast(expression, output_type="effect_size")
            for name, expression in study.first_level_contrasts(False).items()}
    return maps, bool(excluded), str(mask)


def first_level(root: Path, config: dict, subjects: list[str], out: Path
                ) -> tuple[dict, set, dict, pd.DataFrame]:
    """Every run's effect maps (written to ``out``), the excluded (subject, session)
    pairs, the kept runs' masks per subject and every video's ratings (one row each)."""
    data = config["data"]
    effects, excluded, masks, ratings = {}, set(), {}, []
    study = Design.of_study(config["design"])
    columns = {r.name: r.column for r in study.ratings}  # measure -> events column
    video_types = {c.trial_type: c.name for c in study.conditions}
    for subject in subjects:
        masks[subject] = []
        for session in study.sessions:
            stem = f"sub-{subject}_ses-{session}_task-{data['task']}"
            func = root / "derivatives/fmriprep" / f"sub-{subject}" / f"ses-{session}" / "func"
            events = pd.read_csv(root / "bids" / f"sub-{subject}" / f"ses-{session}" / "func"
                                 / f"{stem}_events.tsv", sep="\t", na_values=["n/a"])
            maps, lost, mask = fit_run(func, stem, events, config, data["space"])
            for name, img in maps.items():
                save_nifti(img, out / f"{stem}_contrast-{name}_effect.nii.gz", dtype=np.float32)
                effects[subject, session, name] = np.asarray(img.dataobj, dtype=np.float32)
            if lost:
                excluded.add((subject, session))
            else:
                masks[subject].append(mask)
            videos = events[events["trial_type"].isin(list(video_types))]
            ratings.append(pd.DataFrame({
                "subject": subject, "session": session,
                "video_type": videos["trial_type"].map(video_types).to_numpy(),
                **{measure: videos[column].astype(float).to_numpy()
                   for measure, column in columns.items()}}))
            affine = img.affine
    effects["affine"] = affine
    return effects, excluded, masks, pd.concat(ratings, ignore_index=True)


def change_maps(effects: dict, excluded: set, sessions: Sequence[str], contrast: str,
                subjects: list[str]) -> tuple[list[str], list[nib.Nifti1Image]]:
    """The subjects with both ``sessions`` (earlier, later) kept, and their change maps."""
    before, after = sessions
    keep = [s for s in subjects if (s, before) not in excluded and (s, after) not in excluded]
    maps = [nib.Nifti1Image(effects[s, after, contrast] - effects[s, before, contrast],
                            effects["affine"]) for s in keep]
    return keep, maps


def group_analyses(config: dict, participants: pd.DataFrame, effects: dict, excluded: set,
                   ratings: pd.DataFrame) -> dict[str, tuple[list, pd.DataFrame, dict, dict]]:
    """Each group analysis and brain-behaviour regression: its change maps, design,
    contrasts and own inference settings, built as the workflow's rules build them."""
    study = design_from_config(config)
    data, bb = config["data"], config["brain_behaviour"]
    subjects = list(participants["subject"])
    people = participants.set_index("subject", drop=False)
    out = {}
    for analysis in study.analyses:
        kept, maps = change_maps(effects, excluded, study.period_sessions(analysis.period),
                                 analysis.contrast, subjects)
        rows = people.loc[kept].dropna(subset=data["covariates"])
        maps = [m for s, m in zip(kept, maps) if s in set(rows["subject"])]
        design = group_design(rows, data["covariates"], study.group_names)
        own = ({} if analysis.cluster_forming_p is None
               else {"cluster_forming_p": analysis.cluster_forming_p})
        out[analysis.name] = (maps, design, {
            c.name: contrast_vector(design, study.group_weights(c.name))
            for c in study.group_contrasts if c.kind == "t"}, own)
    covariates = data["covariates"] if bb["covariates"] is None else bb["covariates"]
    members = list(people.loc[people["role"] == study.brain_behaviour_group, "subject"])
    for analysis in study.brain_behaviour:
        kept, maps = change_maps(effects, excluded, study.period_sessions(analysis.period),
                                 analysis.contrast, members)
        rows = people.loc[kept].dropna(subset=covariates)
        score = behaviour_score(analysis.score, ratings, participants, study)
        rows = rows[score.reindex(rows["subject"]).notna().to_numpy()]
        maps = [m for s, m in zip(kept, maps) if s in set(rows["subject"])]
        design = regression_design(rows, score, covariates)
        out[analysis.name] = (maps, design, {
            name: contrast_vector(design, {"score": sign})
            for name, sign in SLOPE_CONTRASTS.items()}, {})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True,
                        help="folder with bids/ and derivatives/fmriprep/")
    parser.add_argument("--config", type=Path, required=True, help="validated ecgap config")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--engine", choices=("nilearn", "ecgap"), nargs="+",
                        default=["nilearn"])
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    data, group = config["data"], config["second_level"]
    if config["first_level"]["parametric_modulation"]:
        raise SystemExit("the naive script has no parametric modulation")
    args.out.mkdir(parents=True, exist_ok=True)
    participants = pd.read_csv(args.root / "bids/participants.tsv", sep="\t",
                               na_values=["n/a"], dtype={"participant_id": str, "group": str})
    participants["subject"] = participants["participant_id"].str[4:]
    left_out = {e["subject"] for e in data["exclude_subjects"]}
    participants = participants[~participants["subject"].isin(left_out)]
    roles = {label: role for role, label in
             Design.of_study(config["design"]).labels().items()}
    participants["role"] = participants["group"].map(roles)
    start = time.perf_counter()
    effects, excluded, masks, ratings = first_level(args.root, config,
                                                    list(participants["subject"]), args.out)
    mask = group_mask(masks, group["mask_fraction"])
    first_level_s = time.perf_counter() - start

    analyses = group_analyses(config, participants, effects, excluded, ratings)
    atlas = load_aal3()
    for engine in args.engine:
        folder = args.out / engine
        folder.mkdir(exist_ok=True)
        for name, (maps, design, contrasts, own) in analyses.items():
            settings = Inference(**{**{k: group[k] for k in INFERENCE_KEYS}, **own},
                                 n_jobs=args.n_jobs, engine=engine)
            results = analyse_contrasts(maps, design, contrasts, mask, settings, atlas)
            for contrast, result in results.items():
                for stat in ("t", "z", "logpFWEsize"):
                    save_nifti(result.images[stat], folder / f"{name}_{contrast}_{stat}.nii.gz",
                               dtype=np.float32)
            pd.concat([r.table for r in results.values()]).to_csv(
                folder / f"{name}_clusters.tsv", sep="\t", index=False)
    total_s = time.perf_counter() - start
    print(f"first level {first_level_s:.1f} s, total {total_s:.1f} s, "
          f"{len(excluded)} runs excluded")


if __name__ == "__main__":
    main()
