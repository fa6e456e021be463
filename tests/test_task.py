"""SoVT timing: blocks of three same-type videos, ratings after each, fixation per block."""

import numpy as np
import pytest

from conftest import PAPER
from ecgap.task import TaskDesign, block_order, make_task_events, n_volumes


@pytest.mark.parametrize("seed", range(5))
def test_events_follow_the_paper_design(seed):
    design = TaskDesign()
    events = make_task_events(design, PAPER, np.random.default_rng(seed))
    videos = events[events.trial_type.isin(["HE", "LE"])]
    assert (videos.trial_type == "HE").sum() == 12 and (videos.trial_type == "LE").sum() == 12
    assert videos.duration.between(10, 18).all()
    assert (events.trial_type == "rating").sum() == 24
    fixation = events[events.trial_type == "fixation"]
    assert len(fixation) == 8 and (fixation.duration == 10).all()
    for _, block in videos.groupby("block"):
        assert len(block) == 3 and block.trial_type.nunique() == 1
    # Events tile the run without overlap.
    ends = (events.onset + events.duration).to_numpy()
    assert np.allclose(events.onset.to_numpy()[1:], ends[:-1], atol=0.06)


def test_block_order_never_three_in_a_row():
    for seed in range(50):
        order = block_order(TaskDesign(), PAPER.condition_names, np.random.default_rng(seed))
        assert not any(order[i] == order[i - 1] == order[i - 2] for i in range(2, len(order)))


def test_n_volumes_covers_the_last_event_and_the_hrf():
    design = TaskDesign(videos_per_type=3)
    events = make_task_events(design, PAPER, np.random.default_rng(1))
    end = (events.onset + events.duration).max()
    assert n_volumes(events, 2.0, 16.0) * 2.0 >= end + 16.0


def test_one_condition_fills_every_block_without_the_run_rule():
    """With a single condition the 'no three in a row' rule cannot hold; it is not asked."""
    from ecgap.config import validate_config
    from ecgap.design import Design

    study = Design.of_study(validate_config({"design": {
        "conditions": [{"name": "task", "trial_type": "video"}], "contrasts": None,
        "nuisance_conditions": []}})["design"])
    events = make_task_events(TaskDesign(videos_per_type=6), study, np.random.default_rng(0))
    assert (events.trial_type == "video").sum() == 6 and (events.trial_type == "response").sum() == 6
