"""The socio-affective video task (SoVT): the timing of one session's run.

Videos come in blocks of three of the same type (high emotion, HE, or low emotion,
LE); every video is followed by a rating period (empathy, positive affect, negative
affect) and every block by a fixation null event (Klimecki et al. 2014).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

VIDEO_TYPES = ("HE", "LE")
RATINGS = ("empathy", "positive_affect", "negative_affect")


@dataclass(frozen=True)
class TaskDesign:
    """Timing parameters of one SoVT run (seconds)."""

    videos_per_type: int = 12
    videos_per_block: int = 3
    video_min: float = 10.0
    video_max: float = 18.0
    rating_duration: float = 6.0
    fixation_duration: float = 10.0
    lead_in: float = 6.0
    lead_out: float = 16.0

    @property
    def blocks_per_type(self) -> int:
        return self.videos_per_type // self.videos_per_block


def block_order(design: TaskDesign, rng: np.random.Generator) -> list[str]:
    """A pseudo-random block order with at most two same-type blocks in a row."""
    while True:
        order = list(rng.permutation(
            [t for t in VIDEO_TYPES for _ in range(design.blocks_per_type)]))
        runs_ok = all(not (order[i] == order[i - 1] == order[i - 2])
                      for i in range(2, len(order)))
        if runs_ok:
            return [str(t) for t in order]


def make_sovt_events(design: TaskDesign, rng: np.random.Generator) -> pd.DataFrame:
    """Events of one run: onset, duration, trial_type, block and video number.

    Video durations are drawn uniformly in [video_min, video_max] and rounded to 0.1 s.
    """
    rows = []
    t = design.lead_in
    video = {vt: 0 for vt in VIDEO_TYPES}
    for block, video_type in enumerate(block_order(design, rng), start=1):
        for _ in range(design.videos_per_block):
            video[video_type] += 1
            duration = round(float(rng.uniform(design.video_min, design.video_max)), 1)
            rows.append((t, duration, video_type, block, f"{video_type}{video[video_type]:02d}"))
            t += duration
            rows.append((t, design.rating_duration, "rating", block, rows[-1][4]))
            t += design.rating_duration
        rows.append((t, design.fixation_duration, "fixation", block, "n/a"))
        t += design.fixation_duration
    events = pd.DataFrame(rows, columns=["onset", "duration", "trial_type", "block", "video"])
    events["onset"] = events["onset"].round(2)
    return events


def n_volumes(events: pd.DataFrame, tr: float, lead_out: float) -> int:
    """Number of volumes that cover every event plus ``lead_out`` seconds for the HRF."""
    end = float((events["onset"] + events["duration"]).max()) + lead_out
    return int(np.ceil(end / tr))
