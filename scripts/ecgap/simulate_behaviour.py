"""Simulated participants, task events, ratings and memory scores with planted effects.

Rating effects are specified as standardised within-subject changes (Cohen's d_z of
the subject-mean rating change), sized from the paper's t-values: d_z = t / sqrt(n),
e.g. the affect group's Pre->Post1 empathy rise, t(24) = 4.66, gives d_z = 0.93.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ecgap.io import write_json, write_text, write_tsv
from ecgap.task import RATINGS, VIDEO_TYPES, TaskDesign, make_sovt_events

#: Mean ratings (0-10 visual analogue scale) per video type before training.
BASE_RATINGS = {
    "empathy": {"HE": 6.5, "LE": 3.0},
    "positive_affect": {"HE": 2.5, "LE": 5.5},
    "negative_affect": {"HE": 5.5, "LE": 1.5},
}
SUBJECT_SD = 0.7       # between-subject sd of a rating's intercept
VIDEO_EFFECT_SD = 0.8  # between-subject sd of the HE - LE difference
CHANGE_SD = 0.8        # between-subject sd of a session-to-session change score
TRIAL_SD = 1.0         # video-to-video sd within a session
N_WORDS = 34           # memory task list length


@dataclass(frozen=True)
class BehaviourParams:
    """Planted behavioural effects (d_z of subject-mean changes)."""

    empathy_delta1_affect: float = 0.93
    negative_delta1_affect: float = 0.70
    negative_delta2_affect: float = -0.61
    positive_delta2_affect: float = 0.85
    negative_delta2_memory: float = -0.60
    empathy_video_x_group: float = 0.73
    recall_delta1_memory: float = 0.83
    recall_delta2_memory: float = 0.44


@dataclass(frozen=True)
class StudyDesign:
    """Who is simulated, with which labels, and the task timing."""

    n_affect: int
    n_memory: int
    sessions: tuple[str, ...] = ("pre", "post1", "post2")
    affect_label: str = "affect"
    memory_label: str = "memory"
    task: str = "sovt"
    memory_task: str = "memory"
    n_missing_memory: int = 0
    n_high_motion_runs: int = 1
    seed: int = 2014
    design: TaskDesign = field(default_factory=TaskDesign)

    @property
    def subjects(self) -> list[str]:
        n = self.n_affect + self.n_memory
        return [f"{i:02d}" for i in range(1, n + 1)]


def simulate_participants(study: StudyDesign, rng: np.random.Generator) -> pd.DataFrame:
    """participants.tsv: group, age, BDI and practice minutes, paper-like distributions."""
    groups = [study.affect_label] * study.n_affect + [study.memory_label] * study.n_memory
    affect = np.array([g == study.affect_label for g in groups])
    age = np.where(affect, rng.normal(25.88, 4.32, len(groups)),
                   rng.normal(22.89, 4.02, len(groups)))
    # BDI is skewed and non-negative: a gamma with the completers' mean 3.1 and sd 3.5.
    bdi = rng.gamma((3.1 / 3.5) ** 2, 3.5 ** 2 / 3.1, len(groups))
    practice = np.clip(rng.normal(1800, 500, len(groups)), 300, None)
    return pd.DataFrame({
        "participant_id": [f"sub-{s}" for s in study.subjects],
        "group": groups,
        "age": np.round(np.clip(age, 18, 45)).astype(int),
        "bdi": np.round(bdi).astype(int),
        "practice_minutes": np.round(practice).astype(int),
    })


def _mean_change(dz: float, n_videos: int) -> float:
    """Mean change (rating units) whose subject-mean change has effect size ``dz``."""
    sd = np.sqrt(CHANGE_SD ** 2 + 2 * TRIAL_SD ** 2 / n_videos)
    return dz * sd


def plant_subject_changes(
    participants: pd.DataFrame, study: StudyDesign, params: BehaviourParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each subject's true rating changes (delta1 = Post1 - Pre, delta2 = Post2 - Post1)."""
    n_videos = 2 * study.design.videos_per_type
    affect = (participants["group"] == study.affect_label).to_numpy()
    means = {
        ("empathy", 1): np.where(affect, params.empathy_delta1_affect, 0.0),
        ("negative_affect", 1): np.where(affect, params.negative_delta1_affect, 0.0),
        ("negative_affect", 2): np.where(affect, params.negative_delta2_affect,
                                         params.negative_delta2_memory),
        ("positive_affect", 2): np.where(affect, params.positive_delta2_affect, 0.0),
    }
    out = pd.DataFrame({"participant_id": participants["participant_id"]})
    for rating in RATINGS:
        # Session-specific deviations (sd CHANGE_SD / sqrt 2 each) make every change
        # score a difference of two deviations: sd CHANGE_SD, and delta1 and delta2
        # correlate -0.5, as difference scores of noisy sessions do.
        dev = rng.normal(0, CHANGE_SD / np.sqrt(2), (len(out), 3))
        out[f"{rating}_intercept"] = rng.normal(0, SUBJECT_SD, len(out)) + dev[:, 0]
        for delta in (1, 2):
            dz = means.get((rating, delta), np.zeros(len(out)))
            out[f"{rating}_delta{delta}"] = (_mean_change(1.0, n_videos) * dz
                                             + dev[:, delta] - dev[:, delta - 1])
    n_he = study.design.videos_per_type * len(study.sessions)
    video_sd = np.sqrt(VIDEO_EFFECT_SD ** 2 + 2 * TRIAL_SD ** 2 / n_he)
    out["empathy_video_extra"] = np.where(affect, params.empathy_video_x_group * video_sd, 0.0)
    for rating in RATINGS:
        out[f"{rating}_video"] = rng.normal(0, VIDEO_EFFECT_SD, len(out))
    return out


def rate_videos(
    events: pd.DataFrame, truth: pd.Series, session_index: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Add the three ratings to the video rows of one run's events (n/a elsewhere)."""
    events = events.copy()
    is_video = events["trial_type"].isin(VIDEO_TYPES)
    for rating in RATINGS:
        change = 0.0
        if session_index >= 1:
            change += truth[f"{rating}_delta1"]
        if session_index >= 2:
            change += truth[f"{rating}_delta2"]
        values = []
        for video_type in events.loc[is_video, "trial_type"]:
            mean = BASE_RATINGS[rating][video_type] + truth[f"{rating}_intercept"] + change
            sign = 1 if BASE_RATINGS[rating]["HE"] > BASE_RATINGS[rating]["LE"] else -1
            # The affect group's extra HE - LE empathy difference is split across the
            # two video types, so it leaves the groups' mean empathy equal at Pre.
            half = sign * truth[f"{rating}_video"] / 2
            if rating == "empathy":
                half += truth["empathy_video_extra"] / 2
            mean += half if video_type == "HE" else -half
            values.append(mean + rng.normal(0, TRIAL_SD))
        events[rating] = np.nan
        events.loc[is_video, rating] = np.round(np.clip(values, 0, 10), 2)
    return events


def simulate_memory(
    participants: pd.DataFrame, study: StudyDesign, params: BehaviourParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Words recalled and words recalled in position per subject and session.

    The memory group improves at each session (method of loci); the affect group
    does not change.
    """
    rows = []
    sd_change = 2.5
    for _, person in participants.iterrows():
        trained = person["group"] == study.memory_label
        level = rng.normal(14, 3.5)
        order = rng.beta(6, 4)  # fraction of recalled words given in the right position
        for index, session in enumerate(study.sessions):
            if index >= 1:
                level += (params.recall_delta1_memory * np.sqrt(2) * sd_change * trained
                          + rng.normal(0, sd_change))
                order = min(order + 0.08 * trained, 0.97)
            if index >= 2:
                level += (params.recall_delta2_memory * np.sqrt(2) * sd_change * trained
                          + rng.normal(0, sd_change))
                order = min(order + 0.05 * trained, 0.97)
            recalled = int(np.clip(np.round(level + rng.normal(0, 1.5)), 0, N_WORDS))
            in_position = int(rng.binomial(recalled, order))
            rows.append({"participant_id": person["participant_id"], "session": session,
                         "n_words": N_WORDS, "recalled": recalled,
                         "recalled_in_position": in_position})
    return pd.DataFrame(rows)


def missing_memory_subjects(study: StudyDesign) -> set[str]:
    """Participants without memory-task data, fixed by the seed (known before any job runs)."""
    rng = np.random.default_rng([study.seed, 99])
    ids = [f"sub-{s}" for s in study.subjects]
    return {str(x) for x in rng.choice(ids, size=min(study.n_missing_memory, len(ids)),
                                       replace=False)}


def study_from_config(config: Mapping[str, Any]) -> StudyDesign:
    """The simulated study described by a (validated) config's data and simulate sections."""
    data, sim = config["data"], config["simulate"]
    task = sim["task"]
    return StudyDesign(
        n_affect=sim["n_affect"], n_memory=sim["n_memory"],
        sessions=tuple(data["sessions"]), affect_label=data["groups"]["affect"],
        memory_label=data["groups"]["memory"], task=data["task"],
        memory_task=data["memory"]["task"], n_missing_memory=sim["n_missing_memory"],
        n_high_motion_runs=sim["n_high_motion_runs"], seed=sim["seed"],
        design=TaskDesign(videos_per_type=task["videos_per_type"], video_min=task["video_min"],
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


def reported_change(session_means: list[float]) -> float:
    """Post1 - Pre of a subject's mean empathy rating over all videos, as rated.

    This is what the brain-behaviour analysis regresses on (the true change plus rating
    noise and the clipping of the 0-10 scale), so the planted aMCC link is tied to it.
    """
    return float(session_means[1] - session_means[0]) if len(session_means) > 1 else 0.0


# --------------------------------------------------------------------------- writing

def write_behaviour_dataset(
    study: StudyDesign, params: BehaviourParams, bids_dir: Path, fmriprep_dir: Path,
    truth_dir: Path,
) -> None:
    """Write the simulated raw BIDS dataset (no images) and the behavioural truth."""
    rng = np.random.default_rng(study.seed)
    participants = simulate_participants(study, rng)
    changes = plant_subject_changes(participants, study, params, rng)
    memory = simulate_memory(participants, study, params, rng)
    high_motion = choose_high_motion_runs(study, rng)
    missing_memory = missing_memory_subjects(study)

    _write_raw_metadata(study, bids_dir, fmriprep_dir)
    write_tsv(participants, bids_dir / "participants.tsv")
    reported = {}
    for index, (_, truth) in enumerate(changes.iterrows()):
        subject = truth["participant_id"]
        session_means = []
        for s_index, session in enumerate(study.sessions):
            run_rng = np.random.default_rng([study.seed, index, s_index])
            events = rate_videos(make_sovt_events(study.design, run_rng), truth, s_index, run_rng)
            session_means.append(events["empathy"].mean())
            func = bids_dir / subject / f"ses-{session}" / "func"
            write_tsv(events, func / f"{subject}_ses-{session}_task-{study.task}_events.tsv")
            if subject in missing_memory:
                continue
            scores = memory[(memory.participant_id == subject) & (memory.session == session)]
            beh = bids_dir / subject / f"ses-{session}" / "beh"
            write_tsv(scores.drop(columns=["participant_id", "session"]),
                      beh / f"{subject}_ses-{session}_task-{study.memory_task}_beh.tsv")
        reported[subject] = reported_change(session_means)

    changes["empathy_delta1_reported"] = changes["participant_id"].map(reported)
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_tsv(participants.merge(changes, on="participant_id"), truth_dir / "subjects.tsv")
    write_tsv(high_motion, truth_dir / "runs.tsv")
    write_json({"behaviour": params.__dict__, "seed": study.seed,
                "missing_memory": sorted(missing_memory),
                "base_ratings": BASE_RATINGS}, truth_dir / "behaviour.json")


def _write_raw_metadata(study: StudyDesign, bids_dir: Path, fmriprep_dir: Path) -> None:
    write_json({
        "Name": "ecgap simulated longitudinal compassion/empathy training study",
        "BIDSVersion": "1.10.0",
        "DatasetType": "raw",
        "License": "CC0",
        "Authors": ["ecgap simulator", "after Klimecki et al. (2014)"],
        "GeneratedBy": [{"Name": "ecgap", "Description": "simulate_behaviour"}],
    }, bids_dir / "dataset_description.json")
    write_text(
        "# Simulated SoVT training study\n\n"
        "Written by the ecgap simulator. Two groups (affect: empathy then compassion "
        "training; memory: two memory trainings) scanned at three sessions while watching "
        "high- (HE) and low-emotion (LE) videos and rating empathy, positive and negative "
        "affect after each video. Memory-task recall scores per session are in beh/.\n"
        "The planted ground truth is written beside this dataset, in truth/.\n",
        bids_dir / "README.md")
    write_text("1.0.0 2026-11-22\n  - Simulated by ecgap.\n", bids_dir / "CHANGES")
    write_json({
        "participant_id": {"Description": "Participant label"},
        "group": {"Description": "Training group",
                  "Levels": {study.affect_label: "empathy then compassion training",
                             study.memory_label: "two memory trainings (method of loci)"}},
        "age": {"Description": "Age at Pre", "Units": "year"},
        "bdi": {"Description": "Beck Depression Inventory score"},
        "practice_minutes": {"Description": "Self-reported training practice", "Units": "min"},
    }, bids_dir / "participants.json")
    rating = {"Description": "Rating after the video, 0-10 visual analogue scale; "
                             "n/a on non-video rows"}
    write_json({
        "TaskName": study.task,
        "trial_type": {"Description": "Event type",
                       "Levels": {"HE": "high-emotion video (people suffering)",
                                  "LE": "low-emotion video (everyday scene)",
                                  "rating": "rating period after a video",
                                  "fixation": "fixation null event after a block"}},
        "block": {"Description": "Block number (three same-type videos)"},
        "video": {"Description": "Video identifier (the video a rating period refers to)"},
        "empathy": rating, "positive_affect": rating, "negative_affect": rating,
    }, bids_dir / f"task-{study.task}_events.json")
    write_json({
        "TaskName": study.memory_task,
        "n_words": {"Description": "Words in the study list"},
        "recalled": {"Description": "Words recalled in 5 min free recall"},
        "recalled_in_position": {"Description": "Words recalled in their list position"},
    }, bids_dir / f"task-{study.memory_task}_beh.json")
    write_json({
        "Name": "fMRIPrep-style derivatives simulated by ecgap",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "ecgap", "Description": "simulate_run"}],
    }, fmriprep_dir / "dataset_description.json")
