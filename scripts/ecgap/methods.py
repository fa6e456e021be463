"""results/methods.md: a methods paragraph written from the run's configuration and
numbers, as fMRIPrep's boilerplate is, with the references it cites.

Every number comes from the configuration the run used or from its own outputs (QC
table, group-level sidecars), so the text is true of the run it sits in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ecgap.design import Condition, Design

REFERENCES = {
    "klimecki": "Klimecki, O. M., Leiberg, S., Ricard, M., & Singer, T. (2014). Differential "
                "pattern of functional brain plasticity after compassion and empathy "
                "training. Social Cognitive and Affective Neuroscience, 9(6), 873-879. "
                "https://doi.org/10.1093/scan/nst060",
    "nilearn": "Abraham, A., Pedregosa, F., Eickenberg, M., Gervais, P., Mueller, A., "
               "Kossaifi, J., Gramfort, A., Thirion, B., & Varoquaux, G. (2014). Machine "
               "learning for neuroimaging with scikit-learn. Frontiers in Neuroinformatics, "
               "8, 14. https://doi.org/10.3389/fninf.2014.00014",
    "snakemake": "Mölder, F., Jablonski, K. P., Letcher, B., Hall, M. B., Tomkins-Tinch, "
                 "C. H., Sochat, V., et al. (2021). Sustainable data analysis with "
                 "Snakemake. F1000Research, 10, 33. "
                 "https://doi.org/10.12688/f1000research.29032.2",
    "power": "Power, J. D., Mitra, A., Laumann, T. O., Snyder, A. Z., Schlaggar, B. L., & "
             "Petersen, S. E. (2014). Methods to detect, characterize, and remove motion "
             "artifact in resting state fMRI. NeuroImage, 84, 320-341. "
             "https://doi.org/10.1016/j.neuroimage.2013.08.048",
    "freedman": "Freedman, D., & Lane, D. (1983). A nonstochastic interpretation of "
                "reported significance levels. Journal of Business & Economic Statistics, "
                "1(4), 292-298. https://doi.org/10.1080/07350015.1983.10509354",
    "winkler": "Winkler, A. M., Ridgway, G. R., Webster, M. A., Smith, S. M., & Nichols, "
               "T. E. (2014). Permutation inference for the general linear model. "
               "NeuroImage, 92, 381-397. https://doi.org/10.1016/j.neuroimage.2014.01.060",
    "nichols": "Nichols, T., Brett, M., Andersson, J., Wager, T., & Poline, J.-B. (2005). "
               "Valid conjunction inference with the minimum statistic. NeuroImage, 25(3), "
               "653-660. https://doi.org/10.1016/j.neuroimage.2004.12.005",
    "aal3": "Rolls, E. T., Huang, C.-C., Lin, C.-P., Feng, J., & Joliot, M. (2020). "
            "Automated anatomical labelling atlas 3. NeuroImage, 206, 116189. "
            "https://doi.org/10.1016/j.neuroimage.2019.116189",
    "statsmodels": "Seabold, S., & Perktold, J. (2010). statsmodels: Econometric and "
                   "statistical modeling with Python. Proceedings of the 9th Python in "
                   "Science Conference, 92-96. https://doi.org/10.25080/Majora-92bf1922-011",
}

DRIFT_WORDS = {
    "fmriprep_cosines": "fMRIPrep's discrete cosine regressors (high-pass, 128 s cut-off) "
                        "entered as confounds",
    "cosine": "nilearn's discrete cosine drift model (high-pass at {high_pass:g} Hz, "
              "cut-off {period:.0f} s)",
    "none": "no high-pass filter",
}


def _list(items: Sequence[Any]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [str(i) for i in items]
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + f" and {items[-1]}"


def _span(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    low, high = min(values), max(values)
    return fmt.format(low) if low == high else f"{fmt.format(low)}-{fmt.format(high)}"


def data_paragraph(data: Mapping, runs: pd.DataFrame, exclusions: pd.DataFrame,
                   preprocess: Mapping, simulated: Mapping | None, design: Design) -> str:
    """Participants, sessions, data source, confounds, scrubbing and run exclusion."""
    source = (f"simulated by ecgap (seed {simulated['seed']}, {simulated['grid_mm']} mm grid, "
              "with planted effects)" if simulated else
              "preprocessed with fMRIPrep and read from its derivatives")
    confounds = preprocess["confounds"]
    dvars = ("" if preprocess["std_dvars_threshold"] is None else
             f" or standardised DVARS above {preprocess['std_dvars_threshold']}")
    return (
        f"Data from {runs['subject'].nunique()} participants in {len(design.groups)} groups "
        f"({_list(design.labels().values())}), scanned in {len(design.sessions)} sessions "
        f"({_list(design.sessions)}; {len(runs)} runs of the {data['task']} task in "
        f"{data['space']} space), were {source}. Nuisance regressors were selected with "
        f"nilearn's load_confounds (strategy {_list(confounds['strategy'])}; motion "
        f"'{confounds['motion']}', white matter and CSF '{confounds['wm_csf']}'). Volumes with "
        f"framewise displacement above {preprocess['fd_threshold']} mm{dvars} were censored "
        f"with one spike regressor each (Power et al., 2014), together with uncensored "
        f"segments shorter than {preprocess['scrub_min_segment']} volumes. Runs with mean "
        f"framewise displacement above {preprocess['max_mean_fd']} mm or more than "
        f"{100 * preprocess['max_scrubbed_fraction']:.0f} % censored volumes were excluded "
        f"({len(exclusions)} of {len(runs)} runs); a subject with an excluded run was left "
        "out of the analyses of the change periods that include that session.")


def _trial_types(conditions: Sequence[Condition]) -> str:
    """'high-emotion video (HE) and low-emotion video (LE)': the descriptions and
    trial_type values of modelled events."""
    return _list([f"{c.description} ({c.trial_type})" if c.description else c.trial_type
                  for c in conditions])


def first_level_paragraph(first_level: Mapping, design: Design, versions: Mapping) -> str:
    """The first-level GLM."""
    drift = DRIFT_WORDS[first_level["drift_model"]].format(
        high_pass=first_level["high_pass"], period=1 / first_level["high_pass"])
    nuisance = (f" and, as nuisance, the {_trial_types(design.nuisance)} events"
                if design.nuisance else "")
    contrasts = _list([c.name if c.name == c.expression else f"{c.name} = {c.expression}"
                       for c in design.contrasts])
    return (
        f"Each session was modelled with nilearn's FirstLevelModel (nilearn "
        f"{versions['nilearn']}; Abraham et al., 2014), its runs concatenated: "
        f"the {_trial_types(design.conditions)} events{nuisance}, convolved with nilearn's "
        f"'{first_level['hrf_model']}' haemodynamic response function, the confounds above "
        f"and {drift}, an "
        f"{first_level['noise_model'].upper()} noise model, data read as 32-bit floats, "
        f"scaled to percent signal change and smoothed with a "
        f"{first_level['smoothing_fwhm']} mm FWHM Gaussian kernel. "
        f"Contrasts against the implicit baseline (the events not modelled) gave the "
        f"effect maps {contrasts} per session.")


def group_paragraph(data: Mapping, second_level: Mapping, sidecars: Sequence[Mapping],
                    design: Design) -> str:
    """Change maps, the group model and its permutation inference."""
    periods = "; ".join(f"{p.name} = {p.second} - {p.first}" for p in design.periods)
    contrasts = _list([c.label for c in design.group_contrasts])
    covariates = data["covariates"]
    n = [s["N"] for s in sidecars]
    t_cf = [s["ClusterFormingT"] for s in sidecars]
    # An analysis may set its own cluster-forming p: the sidecars say which was used.
    p_cf = [s.get("ClusterFormingP", second_level["cluster_forming_p"]) for s in sidecars]
    return (
        f"Each subject's change maps ({periods}) entered one group model per analysis "
        f"({len(sidecars)} analyses, n = {_span(n)}) with one column per group"
        + (f" and the mean-centred covariates {_list(covariates)}" if covariates else "")
        + f". The contrasts {contrasts} were tested one-sided by permutation with the Freedman-Lane procedure (Freedman & Lane, "
        f"1983; Winkler et al., 2014), {second_level['n_permutations']} permutations (seed "
        f"{second_level['seed']}), giving family-wise error (FWE) corrected p values for "
        "voxels, cluster size and cluster mass. Clusters were formed at one-sided p < "
        f"{_span(p_cf, '{:g}')} (t > {_span(t_cf, '{:.2f}')}) with "
        f"{second_level['connectivity']}-connectivity and called significant at "
        f"cluster-size FWE p < {second_level['alpha']}. Group-level effect, variance, t and z "
        "maps are provided for image-based meta-analysis.")


def conjunction_paragraph(second_level: Mapping) -> str:
    if not second_level["conjunctions"]:
        return ""
    return (
        "Conjunctions of analyses used the minimum statistic under the conjunction null "
        f"(Nichols et al., 2005): a voxel was in a conjunction when it was voxel-level FWE "
        f"significant (p < {second_level['alpha']}) in every analysis of the conjunction. "
        "The overlap of the analyses' FWE-significant clusters is reported separately as a "
        "descriptive measure.")


def brain_behaviour_paragraph(data: Mapping, brain_behaviour: Mapping,
                              sidecars: Sequence[Mapping], design: Design) -> str:
    if not sidecars:
        return ""
    covariates = (data["covariates"] if brain_behaviour["covariates"] is None
                  else brain_behaviour["covariates"])
    group = design.labels()[brain_behaviour["group"]]
    return (
        f"Brain-behaviour analyses regressed, within the {group} group (n = "
        f"{_span([s['N'] for s in sidecars])}), the change maps on a behavioural score"
        + (f" with the covariates {_list(covariates)}" if covariates else "")
        + ", testing positive and negative slopes with the same permutation inference.")


def behaviour_paragraph(behaviour: Mapping, data: Mapping, versions: Mapping,
                        design: Design) -> str:
    if not design.ratings:
        return ""
    centred = "mean-centred" if behaviour["center_covariates"] else "uncentred (as SPSS)"
    factors = ("condition x " if len(design.conditions) > 1 else "") + "session x group"
    exact = ("exact F" if len(design.groups) == 2 else
             "exact F for one hypothesis row, Pillai's approximate F otherwise")
    return (
        f"The ratings ({_list(design.rating_names)}) were analysed with a repeated-measures "
        f"MANOVA ({factors}, Pillai's trace with {exact}; statsmodels "
        f"{versions['statsmodels']}, Seabold & Perktold, 2010) with the {centred} covariates"
        f" {_list(data['covariates']) or 'none'}, followed by per-rating tests and t-tests "
        f"at alpha = {behaviour['alpha']}.")


def software_paragraph(versions: Mapping) -> str:
    return (
        f"Clusters were labelled with the AAL3 atlas (Rolls et al., 2020). The analysis ran "
        f"in ecgap {versions['ecgap']}, a Snakemake workflow (Snakemake "
        f"{versions['snakemake']}; Mölder et al., 2021) following the design of Klimecki et "
        f"al. (2014), with nilearn {versions['nilearn']}, nibabel {versions['nibabel']}, "
        f"NumPy {versions['numpy']}, SciPy {versions['scipy']}, pandas {versions['pandas']} "
        f"and statsmodels {versions['statsmodels']}.")


def methods_markdown(settings: Mapping, runs: pd.DataFrame, exclusions: pd.DataFrame,
                     group_sidecars: Sequence[Mapping], bb_sidecars: Sequence[Mapping],
                     versions: Mapping) -> str:
    """The methods text: a title, the paragraphs and the references they cite.

    ``settings`` holds the configuration sections data, simulate (or None for real data),
    preprocess, first_level, second_level, brain_behaviour and behaviour, and the
    study design (:meth:`ecgap.design.Design.as_dict`).
    """
    data, design = settings["data"], Design.from_dict(settings["design"])
    paragraphs = [
        data_paragraph(data, runs, exclusions, settings["preprocess"], settings["simulate"],
                       design),
        first_level_paragraph(settings["first_level"], design, versions),
        group_paragraph(data, settings["second_level"], group_sidecars, design),
        conjunction_paragraph(settings["second_level"]),
        brain_behaviour_paragraph(data, settings["brain_behaviour"], bb_sidecars, design),
        behaviour_paragraph(settings["behaviour"], data, versions, design),
        software_paragraph(versions),
    ]
    text = "\n\n".join(p for p in paragraphs if p)
    # A reference is listed when the text cites its first author's surname.
    cited = [ref for ref in REFERENCES.values() if ref.split(",")[0] in text]
    references = "\n".join(f"- {ref}" for ref in sorted(cited))
    return (f"# Methods\n\n{text}\n\nReferences\n\n{references}\n")
