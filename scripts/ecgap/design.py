"""The study design's names: change periods, contrasts and the maps written for them.

Only the standard library here: the Snakefile imports this module at every parse, and
the light rule jobs (change maps, tables) import it too, so it must not pull in nilearn,
matplotlib or statsmodels (about 2-4 s of imports each time).
"""

from __future__ import annotations

from typing import Sequence

#: Change periods and the two sessions (by position: Pre, Post1, Post2) each spans.
DELTAS = {"delta1": ("pre", "post1"), "delta2": ("post1", "post2")}
_SESSION_POSITION = {"pre": 0, "post1": 1, "post2": 2}

#: Group contrasts over the design's (affect, memory) columns.
GROUP_CONTRASTS = {"affectGtMemory": (1.0, -1.0), "memoryGtAffect": (-1.0, 1.0)}

#: The maps of each group-level contrast (the stat- entity of their names): nilearn's
#: effect (c'beta) and its variance, as NiMARE's image-based meta-analyses read them;
#: permutation t, parametric z, voxel/size/mass FWE -log10 p; t inside FWE clusters.
GROUP_STATS = ("effect", "variance", "t", "z", "logpFWEvoxel", "logpFWEsize", "logpFWEmass",
               "tFWEcluster")

#: The SoVT contrasts, each against the implicit fixation baseline: name -> nilearn
#: expression over the video regressors.
SOVT_CONTRASTS = {
    "HE": "HE",
    "LE": "LE",
    "HEMinusLE": "HE - LE",
    "meanHELE": "0.5 * HE + 0.5 * LE",
}

#: The maps written per first-level contrast (BIDS ``stat-`` entity).
FIRST_LEVEL_STATS = ("effect", "variance", "z")

#: Brain-behaviour slope contrasts: name -> sign of the score's coefficient.
SLOPE_CONTRASTS = {"positiveSlope": 1.0, "negativeSlope": -1.0}

#: Rating scales a brain-behaviour score may be the change of.
RATING_MEASURES = ("empathy", "positive_affect", "negative_affect")


def delta_sessions(delta: str, sessions: Sequence[str]) -> list[str]:
    """The BIDS session labels a change period spans, e.g. delta1 -> [pre, post1]."""
    return [sessions[_SESSION_POSITION[s]] for s in DELTAS[delta]]


def first_level_output_name(contrast: str, stat: str) -> str:
    """Snakemake output name of one contrast's map, e.g. ``HE_effect``."""
    return f"{contrast}_{stat}"


def parametric_name(rating: str) -> str:
    """``positive_affect`` -> ``PositiveAffect`` (a regressor/contrast-safe name)."""
    return "".join(part.capitalize() for part in rating.split("_"))


def sovt_contrasts(parametric: bool, ratings: Sequence[str]) -> dict[str, str]:
    """Contrast name -> nilearn expression; with parametric modulators, one per modulator."""
    contrasts = dict(SOVT_CONTRASTS)
    if parametric:
        for video in ("HE", "LE"):
            for rating in ratings:
                name = f"{video}x{parametric_name(rating)}"
                contrasts[name] = name
    return contrasts


def score_label(score: dict) -> str:
    """A short description of a brain-behaviour score, e.g. 'empathy delta1 (all videos)'."""
    if score["measure"] in RATING_MEASURES:
        return (f"{score['measure']} {score['delta']} "
                f"({score.get('video_type', 'all')} videos)")
    return score["measure"]
