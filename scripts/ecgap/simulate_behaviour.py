"""Simulated participants, task events, ratings and per-session scores with planted effects.

The study's shape (groups, sessions, conditions, ratings, score columns) comes from the
design model (:class:`ecgap.design.Design`); the planted effects from the config's
``simulate.behaviour``. Rating effects are standardised within-subject changes (Cohen's
d_z of the subject-mean rating change), sized in the default config from the paper's
t-values: d_z = t / sqrt(n), e.g. the affect group's Pre->Post1 empathy rise, t(24) =
4.66, gives d_z = 0.93.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ecgap.design import Design
from ecgap.io import write_json, write_text, write_tsv
from ecgap.task import TaskDesign, make_task_events

DEFAULT_AGE = (24.0, 4.0)  # age mean and sd of a group the config gives none
DEFAULT_RATING = 5.0   # mean rating (0-10) of a rating the config gives no base for
SUBJECT_SD = 0.7       # between-subject sd of a rating's intercept
VIDEO_EFFECT_SD = 0.8  # between-subject sd of the difference of the first two conditions
CHANGE_SD = 0.8        # between-subject sd of a session-to-session change score
TRIAL_SD = 1.0         # event-to-event sd within a session
N_WORDS = 34           # memory task list length
ORDER_GAIN = (0.08, 0.05)  # trained rise of the in-position fraction per step


@dataclass(frozen=True)
class BehaviourParams:
    """Planted behavioural effects (the config's ``simulate.behaviour``)."""

    ages: Mapping[str, Sequence[float]]
    base_ratings: Mapping[str, Sequence[float]]
    rating_changes: Sequence[Mapping[str, Any]]
    condition_x_group: Mapping[str, Any] | None
    score_changes: Sequence[Mapping[str, Any]]

    def age(self, group: str) -> Sequence[float]:
        return self.ages.get(group, DEFAULT_AGE)

    def base(self, rating: str, conditions: Sequence[str]) -> dict[str, float]:
        """Mean rating per condition before training."""
        return dict(zip(conditions, self.base_ratings.get(rating,
                                                          [DEFAULT_RATING] * len(conditions))))


@dataclass(frozen=True)
class StudyDesign:
    """Who is simulated (group sizes in design order), with which labels, and the task
    timing."""

    study: Design
    group_sizes: tuple[int, ...]
    task: str = "sovt"
    n_missing_memory: int = 0
    n_high_motion_runs: int = 1
    seed: int = 2014
    timing: TaskDesign = field(default_factory=TaskDesign)

    @property
    def sessions(self) -> tuple[str, ...]:
        return self.study.sessions

    @property
    def subjects(self) -> list[str]:
        return [f"{i:02d}" for i in range(1, sum(self.group_sizes) + 1)]

    def group_names(self) -> list[str]:
        """Each subject's design group, subjects numbered group by group."""
        return [g.name for g, n in zip(self.study.groups, self.group_sizes) for _ in range(n)]


def simulate_participants(study: StudyDesign, params: BehaviourParams,
                          rng: np.random.Generator) -> pd.DataFrame:
    """participants.tsv: group, age, BDI and practice minutes, paper-like distributions."""
    names = np.array(study.group_names())
    n = len(names)
    # One full-length draw per group in design order; each subject takes its group's.
    draws = {g.name: rng.normal(*params.age(g.name), n) for g in study.study.groups}
    age = np.choose([study.study.group_names.index(g) for g in names],
                    [draws[g.name] for g in study.study.groups])
    # BDI is skewed and non-negative: a gamma with the completers' mean 3.1 and sd 3.5.
    bdi = rng.gamma((3.1 / 3.5) ** 2, 3.5 ** 2 / 3.1, n)
    practice = np.clip(rng.normal(1800, 500, n), 300, None)
    labels = study.study.labels()
    return pd.DataFrame({
        "participant_id": [f"sub-{s}" for s in study.subjects],
        "group": [labels[g] for g in names],
        "age": np.round(np.clip(age, 18, 45)).astype(int),
        "bdi": np.round(bdi).astype(int),
        "practice_minutes": np.round(practice).astype(int),
    })


def _mean_change(dz: float, n_videos: int) -> float:
    """Mean change (rating units) whose subject-mean change has effect size ``dz``."""
    sd = np.sqrt(CHANGE_SD ** 2 + 2 * TRIAL_SD ** 2 / n_videos)
    return dz * sd


def _per_subject(names: np.ndarray, entries: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Each subject's planted d_z: the entry of its group (0 without one)."""
    dz = np.zeros(len(names))
    for entry in entries:
        dz = np.where(names == entry["group"], entry["dz"], dz)
    return dz


def plant_subject_changes(
    participants: pd.DataFrame, study: StudyDesign, params: BehaviourParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each subject's true rating changes over each step between consecutive sessions."""
    design, names = study.study, np.array(study.group_names())
    n_videos = len(design.conditions) * study.timing.videos_per_type
    out = pd.DataFrame({"participant_id": participants["participant_id"]})
    for rating in design.rating_names:
        # Session-specific deviations (sd CHANGE_SD / sqrt 2 each) make every change
        # score a difference of two deviations: sd CHANGE_SD, and consecutive changes
        # correlate -0.5, as difference scores of noisy sessions do.
        dev = rng.normal(0, CHANGE_SD / np.sqrt(2), (len(out), len(design.sessions)))
        out[f"{rating}_intercept"] = rng.normal(0, SUBJECT_SD, len(out)) + dev[:, 0]
        for number, step in enumerate(design.steps, start=1):
            dz = _per_subject(names, [c for c in params.rating_changes
                                      if c["rating"] == rating and c["step"] == number])
            out[f"{rating}_{step.name}"] = (_mean_change(1.0, n_videos) * dz
                                            + dev[:, number] - dev[:, number - 1])
    if len(design.conditions) > 1:
        extra = params.condition_x_group
        if extra is not None:
            n_first = study.timing.videos_per_type * len(design.sessions)
            video_sd = np.sqrt(VIDEO_EFFECT_SD ** 2 + 2 * TRIAL_SD ** 2 / n_first)
            out[f"{extra['rating']}_video_extra"] = np.where(names == extra["group"],
                                                             extra["dz"] * video_sd, 0.0)
        for rating in design.rating_names:
            out[f"{rating}_video"] = rng.normal(0, VIDEO_EFFECT_SD, len(out))
    return out


def rate_videos(events: pd.DataFrame, truth: pd.Series, session_index: int,
                study: Design, params: BehaviourParams,
                rng: np.random.Generator) -> pd.DataFrame:
    """Add the ratings to the condition rows of one run's events (n/a elsewhere).

    The first two conditions differ by the subject's condition effect, split half up,
    half down, so that it leaves the conditions' mean unchanged.
    """
    events = events.copy()
    names = {c.trial_type: c.name for c in study.conditions}
    is_condition = events["trial_type"].isin(names)
    first = study.condition_names[:2]
    for rating in study.ratings:
        base = params.base(rating.name, study.condition_names)
        change = 0.0
        for step in study.steps[:session_index]:
            change += truth[f"{rating.name}_{step.name}"]
        values = []
        for trial_type in events.loc[is_condition, "trial_type"]:
            condition = names[trial_type]
            mean = base[condition] + truth[f"{rating.name}_intercept"] + change
            if len(first) == 2 and condition in first:
                sign = 1 if base[first[0]] > base[first[1]] else -1
                half = sign * truth[f"{rating.name}_video"] / 2
                if f"{rating.name}_video_extra" in truth:
                    half += truth[f"{rating.name}_video_extra"] / 2
                mean += half if condition == first[0] else -half
            values.append(mean + rng.normal(0, TRIAL_SD))
        events[rating.column] = np.nan
        events.loc[is_condition, rating.column] = np.round(np.clip(values, 0, 10), 2)
    return events


def simulate_scores(
    participants: pd.DataFrame, study: StudyDesign, params: BehaviourParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Per subject and session: words recalled (the first score column) and words
    recalled in their list position (the second).

    A group with score changes improves at each step (the memory group's method of
    loci in the paper); at session i the gains of steps 1..i are drawn again on top of
    the previous level, as the simulator has always done.
    """
    rows = []
    sd_change = 2.5
    columns = list(study.study.scores)
    for name, (_, person) in zip(study.group_names(), participants.iterrows()):
        gains = {c["step"]: c["dz"] for c in params.score_changes if c["group"] == name}
        level = rng.normal(14, 3.5)
        order = rng.beta(6, 4)  # fraction of recalled words given in the right position
        for index, session in enumerate(study.sessions):
            for step in range(1, index + 1):
                trained = step in gains
                level += (gains.get(step, 0.0) * np.sqrt(2) * sd_change * trained
                          + rng.normal(0, sd_change))
                order = min(order + ORDER_GAIN[min(step, 2) - 1] * trained, 0.97)
            recalled = int(np.clip(np.round(level + rng.normal(0, 1.5)), 0, N_WORDS))
            in_position = int(rng.binomial(recalled, order))
            rows.append({"participant_id": person["participant_id"], "session": session,
                         "n_words": N_WORDS,
                         **dict(zip(columns, (recalled, in_position)))})
    return pd.DataFrame(rows)


def missing_memory_subjects(study: StudyDesign) -> set[str]:
    """Participants without score-task data, fixed by the seed (known before any job runs)."""
    rng = np.random.default_rng([study.seed, 99])
    ids = [f"sub-{s}" for s in study.subjects]
    return {str(x) for x in rng.choice(ids, size=min(study.n_missing_memory, len(ids)),
                                       replace=False)}


def study_from_config(config: Mapping[str, Any]) -> StudyDesign:
    """The simulated study described by a validated config's data, design and simulate
    sections."""
    data, sim, task = config["data"], config["simulate"], config["simulate"]["task"]
    design = Design.of_study(config["design"])
    return StudyDesign(
        study=design, group_sizes=tuple(sim["group_sizes"][g] for g in design.group_names),
        task=data["task"], n_missing_memory=sim["n_missing_memory"],
        n_high_motion_runs=sim["n_high_motion_runs"], seed=sim["seed"],
        timing=TaskDesign(videos_per_type=task["videos_per_type"], video_min=task["video_min"],
                          video_max=task["video_max"],
                          rating_duration=task["rating_duration"],
                          fixation_duration=task["fixation_duration"]),
    )


def choose_high_motion_runs(study: StudyDesign, rng: np.random.Generator) -> pd.DataFrame:
    """Which runs get heavy head motion (the QC must catch them)."""
    runs = pd.DataFrame([(s, ses) for s in study.subjects for ses in study.sessions],
                        columns=["subject", "session"])
    chosen = rng.choice(len(runs), size=min(study.n_high_motion_runs, len(runs)), replace=False)
    runs["high_motion"] = False
    runs.loc[chosen, "high_motion"] = True
    return runs


def reported_change(session_means: list[float], step: int = 1) -> float:
    """The change over one step (session ``step`` minus the one before) of a subject's
    mean rating over all its events, as rated.

    This is what the brain-behaviour analysis regresses on (the true change plus rating
    noise and the clipping of the 0-10 scale), so the planted link is tied to it.
    """
    return (float(session_means[step] - session_means[step - 1])
            if len(session_means) > step else 0.0)


def reported_column(rating: str, step: Design | str) -> str:
    """Truth column of the reported change of ``rating`` over a step (by name)."""
    return f"{rating}_{step}_reported"


# --------------------------------------------------------------------------- writing

def write_behaviour_dataset(
    study: StudyDesign, params: BehaviourParams, bids_dir: Path, fmriprep_dir: Path,
    truth_dir: Path, link: Mapping[str, Any] | None = None,
) -> None:
    """Write the simulated raw BIDS dataset (no images) and the behavioural truth.

    ``link`` (the config's ``simulate.imaging.link``) names the rating and step whose
    reported change the imaging gains follow; its column is added to the truth.
    """
    design = study.study
    rng = np.random.default_rng(study.seed)
    participants = simulate_participants(study, params, rng)
    changes = plant_subject_changes(participants, study, params, rng)
    scores = simulate_scores(participants, study, params, rng)
    high_motion = choose_high_motion_runs(study, rng)
    missing = missing_memory_subjects(study) if design.scores else set()

    _write_raw_metadata(study, bids_dir, fmriprep_dir)
    write_tsv(participants, bids_dir / "participants.tsv")
    rating = link and next(r for r in design.ratings if r.name == link["rating"])
    reported = {}
    for index, (_, truth) in enumerate(changes.iterrows()):
        subject = truth["participant_id"]
        session_means = []
        for s_index, session in enumerate(study.sessions):
            run_rng = np.random.default_rng([study.seed, index, s_index])
            events = rate_videos(make_task_events(study.timing, design, run_rng), truth,
                                 s_index, design, params, run_rng)
            if rating:
                session_means.append(events[rating.column].mean())
            func = bids_dir / subject / f"ses-{session}" / "func"
            write_tsv(events, func / f"{subject}_ses-{session}_task-{study.task}_events.tsv")
            if subject in missing or not design.scores:
                continue
            rows = scores[(scores.participant_id == subject) & (scores.session == session)]
            beh = bids_dir / subject / f"ses-{session}" / "beh"
            write_tsv(rows.drop(columns=["participant_id", "session"]),
                      beh / f"{subject}_ses-{session}_task-{design.score_task}_beh.tsv")
        reported[subject] = reported_change(session_means, link["step"]) if link else 0.0

    if link:
        step = design.steps[link["step"] - 1].name
        changes[reported_column(link["rating"], step)] = changes["participant_id"].map(reported)
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_tsv(participants.merge(changes, on="participant_id"), truth_dir / "subjects.tsv")
    write_tsv(high_motion, truth_dir / "runs.tsv")
    write_json({"behaviour": {k: v for k, v in params.__dict__.items()}, "seed": study.seed,
                "missing_memory": sorted(missing)}, truth_dir / "behaviour.json")


def _write_raw_metadata(study: StudyDesign, bids_dir: Path, fmriprep_dir: Path) -> None:
    design = study.study
    write_json({
        "Name": "ecgap simulated longitudinal training study",
        "BIDSVersion": "1.10.0",
        "DatasetType": "raw",
        "License": "CC0",
        "Authors": ["ecgap simulator", "after Klimecki et al. (2014)"],
        "GeneratedBy": [{"Name": "ecgap", "Description": "simulate_behaviour"}],
    }, bids_dir / "dataset_description.json")
    groups = "; ".join(f"{g.name}: {g.description}" if g.description else g.name
                       for g in design.groups)
    conditions = ", ".join(c.trial_type for c in design.conditions)
    write_text(
        f"# Simulated {study.task} training study\n\n"
        f"Written by the ecgap simulator. {len(design.groups)} groups ({groups}) scanned at "
        f"{len(design.sessions)} sessions ({', '.join(design.sessions)}) during the "
        f"{study.task} task (conditions {conditions})"
        + (f", rating {', '.join(design.rating_names)} after each event" if design.ratings
           else "")
        + (f". Per-session scores of the {design.score_task} task are in beh/"
           if design.scores else "")
        + ".\nThe planted ground truth is written beside this dataset, in truth/.\n",
        bids_dir / "README.md")
    write_text("1.0.0 2026-11-22\n  - Simulated by ecgap.\n", bids_dir / "CHANGES")
    write_json({
        "participant_id": {"Description": "Participant label"},
        "group": {"Description": "Training group",
                  "Levels": {g.label: g.description for g in design.groups}},
        "age": {"Description": "Age at Pre", "Units": "year"},
        "bdi": {"Description": "Beck Depression Inventory score"},
        "practice_minutes": {"Description": "Self-reported training practice", "Units": "min"},
    }, bids_dir / "participants.json")
    rating = {"Description": "Rating after the video, 0-10 visual analogue scale; "
                             "n/a on non-video rows"}
    levels = {c.trial_type: c.description for c in design.conditions + design.nuisance}
    write_json({
        "TaskName": study.task,
        "trial_type": {"Description": "Event type",
                       "Levels": {**levels, "fixation": "fixation null event after a block"}},
        "block": {"Description": "Block number (three same-type videos)"},
        "video": {"Description": "Video identifier (the video a rating period refers to)"},
        **{r.column: rating for r in design.ratings},
    }, bids_dir / f"task-{study.task}_events.json")
    if design.scores:
        words = ("Words recalled in 5 min free recall", "Words recalled in their list position")
        write_json({
            "TaskName": design.score_task,
            "n_words": {"Description": "Words in the study list"},
            **{c: {"Description": d} for c, d in zip(design.scores, words)},
        }, bids_dir / f"task-{design.score_task}_beh.json")
    write_json({
        "Name": "fMRIPrep-style derivatives simulated by ecgap",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "ecgap", "Description": "simulate_run"}],
    }, fmriprep_dir / "dataset_description.json")
