"""The simulated task: the timing of one session's run.

Modelled on the socio-affective video task (SoVT) of Klimecki et al. (2014): events
(videos) come in blocks of three of the same condition; every event is followed by a
response period (the first nuisance condition of the design: the ratings in the SoVT)
and every block by a fixation null event.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Sequence

import numpy as np
import pandas as pd

from ecgap.design import Design

#: trial_type of the response period after each event when the design models none.
RESPONSE = "response"
FIXATION = "fixation"


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


def block_order(design: TaskDesign, conditions: Sequence[str],
                rng: np.random.Generator) -> list[str]:
    """A pseudo-random block order with at most two same-condition blocks in a row
    (with a single condition, every block is that condition)."""
    while True:
        order = list(rng.permutation(
            [t for t in conditions for _ in range(design.blocks_per_type)]))
        runs_ok = len(conditions) == 1 or all(not (order[i] == order[i - 1] == order[i - 2])
                                              for i in range(2, len(order)))
        if runs_ok:
            return [str(t) for t in order]


def make_task_events(design: TaskDesign, study: Design,
                     rng: np.random.Generator) -> pd.DataFrame:
    """Events of one run: onset, duration, trial_type, block and video number, with the
    ``study``'s condition and first nuisance trial types.

    Event durations are drawn uniformly in [video_min, video_max] and rounded to 0.1 s.
    """
    rows = []
    t = design.lead_in
    conditions = [c.trial_type for c in study.conditions]
    response = study.nuisance[0].trial_type if study.nuisance else RESPONSE
    video = {vt: 0 for vt in conditions}
    for block, video_type in enumerate(block_order(design, conditions, rng), start=1):
        for _ in range(design.videos_per_block):
            video[video_type] += 1
            duration = round(float(rng.uniform(design.video_min, design.video_max)), 1)
            rows.append((t, duration, video_type, block, f"{video_type}{video[video_type]:02d}"))
            t += duration
            rows.append((t, design.rating_duration, response, block, rows[-1][4]))
            t += design.rating_duration
        rows.append((t, design.fixation_duration, FIXATION, block, "n/a"))
        t += design.fixation_duration
    events = pd.DataFrame(rows, columns=["onset", "duration", "trial_type", "block", "video"])
    events["onset"] = events["onset"].round(2)
    return events


def n_volumes(events: pd.DataFrame, tr: float, lead_out: float) -> int:
    """Number of volumes that cover every event plus ``lead_out`` seconds for the HRF."""
    end = float((events["onset"] + events["duration"]).max()) + lead_out
    return int(np.ceil(end / tr))
