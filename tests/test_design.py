"""The study-design model: the paper's design from the default config, other designs from
their config, contrast weights, and the round trip through Snakemake params."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from nilearn.glm.contrasts import expression_to_contrast_vector

from conftest import REPO
from ecgap.config import design_from_config, validate_config
from ecgap.design import OMNIBUS, Design, Period, linear_weights
from ecgap.io import InputError

SCHEMA = REPO / "config/schema/config.schema.yaml"


def _design(**sections) -> Design:
    return design_from_config(validate_config(copy.deepcopy(sections), SCHEMA))


def _custom(design: dict, **sections) -> Design:
    """A design unlike the paper's (the legacy data keys cannot state it, so the design
    model is built without their agreement check)."""
    return Design.from_config(validate_config({"design": design, **sections}, SCHEMA))


PREPOST = {"groups": [{"name": "training"}, {"name": "control", "control": True}],
           "sessions": ["t1", "t2"], "change_periods": {"descriptions": {}}, "conditions": [{"name": "task", "trial_type": "video"}],
           "nuisance_conditions": [{"name": "response"}], "contrasts": None,
           "ratings": [{"name": "arousal"}], "scores": {"columns": []}}
PREPOST_ANALYSES = {
    "second_level": {"analyses": [{"name": "change", "delta": "delta1", "contrast": "task"}],
                     "conjunctions": []},
    "brain_behaviour": {"analyses": [{"name": "arousal", "delta": "delta1", "contrast": "task",
                                      "score": {"measure": "arousal", "delta": "delta1"}}]}}


def test_the_default_config_is_the_papers_design():
    design = _design()
    assert design.group_names == ["affect", "memory"] and design.control.name == "memory"
    assert design.labels() == {"affect": "affect", "memory": "memory"}
    assert [(p.name, p.first, p.second) for p in design.periods] == [
        ("delta1", "pre", "post1"), ("delta2", "post1", "post2")]
    assert design.periods == design.steps
    assert design.period("delta1").label() == "delta1 (post1 - pre)"
    assert design.modelled_trial_types() == {"HE": "HE", "LE": "LE", "rating": "rating"}
    assert design.first_level_contrasts(False) == {
        "HE": "HE", "LE": "LE", "HEMinusLE": "HE - LE", "meanHELE": "0.5 * HE + 0.5 * LE"}
    assert list(design.first_level_contrasts(True))[4:] == [
        "HExEmpathy", "HExPositiveAffect", "HExNegativeAffect",
        "LExEmpathy", "LExPositiveAffect", "LExNegativeAffect"]
    assert design.contrast_weights("meanHELE") == {"HE": 0.5, "LE": 0.5}
    assert design.rating_names == ["empathy", "positive_affect", "negative_affect"]
    assert (design.score_task, design.scores) == ("memory", ("recalled", "recalled_in_position"))
    assert [(c.name, c.rows, c.label, c.kind) for c in design.group_contrasts] == [
        ("affectGtMemory", ((1.0, -1.0),), "affect > memory", "t"),
        ("memoryGtAffect", ((-1.0, 1.0),), "memory > affect", "t")]
    assert design.group_weights("affectGtMemory") == {"affect": 1.0, "memory": -1.0}
    assert [a.name for a in design.analyses][:3] == ["empathyHELE", "empathyHE", "empathyLE"]
    assert design.brain_behaviour_group == "affect"
    assert {c.group_contrast for c in design.conjunctions} == {"affectGtMemory"}
    score = design.brain_behaviour[0].score
    assert design.score_label(score) == "empathy delta1 (all videos)"
    assert design.score_label(design.brain_behaviour[-1].score) == "practice_minutes"


@pytest.mark.parametrize("expression", ["HE", "HE - LE", "0.5 * HE + 0.5 * LE", "-LE",
                                        "2*HE - LE/4 + 3 * C", "(HE + LE) / 2 - C",
                                        "HE * -1.5 + 0.25 * (C - LE)"])
def test_linear_weights_equal_nilearns_contrast_vector(expression):
    names = ["HE", "LE", "C"]
    expected = expression_to_contrast_vector(expression, names)
    assert np.allclose(list(linear_weights(expression, names).values()), expected)


@pytest.mark.parametrize("expression, words", [("HE * LE", "product"), ("XX", "not a condition"),
                                               ("HE ** 2", "not a linear term"),
                                               ("HE -", "cannot read")])
def test_non_linear_expressions_are_refused(expression, words):
    with pytest.raises(ValueError, match=words):
        linear_weights(expression, ["HE", "LE"])


def test_a_pre_post_design_has_one_period_and_one_contrast_per_condition():
    design = _custom(PREPOST, **PREPOST_ANALYSES)
    assert design.periods == (Period("delta1", "t1", "t2"),)
    assert design.contrast_names == ["task"] and design.modelled_trial_types() == {
        "video": "task", "response": "response"}
    assert design.primary_contrast == "trainingGtControl"
    assert design.brain_behaviour_group == "training"
    assert design.first_level_contrasts(True) == {"task": "task", "taskxArousal": "taskxArousal"}
    assert design.score_label(design.brain_behaviour[0].score) == "arousal delta1 (all videos)"


def test_three_groups_get_every_pairwise_t_and_the_omnibus_f():
    groups = [{"name": "affect"}, {"name": "perspective"}, {"name": "memory", "control": True}]
    design = _custom({"groups": groups})
    names = [c.name for c in design.group_contrasts]
    assert names == ["affectGtPerspective", "perspectiveGtAffect", "affectGtMemory",
                     "memoryGtAffect", "perspectiveGtMemory", "memoryGtPerspective", OMNIBUS]
    omnibus = design.group_contrast(OMNIBUS)
    assert omnibus.kind == "F" and omnibus.rows == ((1.0, 0.0, -1.0), (0.0, 1.0, -1.0))
    assert design.group_weights("perspectiveGtMemory") == {
        "affect": 0.0, "perspective": 1.0, "memory": -1.0}
    assert design.pairs() == [("affect", "perspective"), ("affect", "memory"),
                              ("perspective", "memory")]
    with pytest.raises(ValueError, match="F contrast"):
        design.group_weights(OMNIBUS)


def test_baseline_referenced_periods_and_their_steps():
    design = _custom({"sessions": ["a", "b", "c", "d"],
                      "change_periods": {"reference": "baseline", "names": ["early", "mid", "late"]}},
                     second_level={"analyses": [{"name": "x", "delta": "late", "contrast": "HE"}],
                                   "conjunctions": []},
                     brain_behaviour={"analyses": []})
    assert [(p.name, p.first, p.second) for p in design.periods] == [
        ("early", "a", "b"), ("mid", "a", "c"), ("late", "a", "d")]
    assert [(p.name, p.first, p.second) for p in design.steps] == [
        ("step1", "a", "b"), ("step2", "b", "c"), ("step3", "c", "d")]


def test_configured_group_contrasts_replace_the_pairs():
    design = _custom({"group_contrasts": [{"name": "trainedGtControl",
                                           "weights": {"affect": 1, "memory": -1}}]},
                     second_level={"conjunctions": []})
    assert [c.name for c in design.group_contrasts] == ["trainedGtControl"]
    with pytest.raises(InputError, match="group_contrasts \\(bad\\).weights"):
        _design(design={"group_contrasts": [{"name": "bad", "weights": {"nobody": 1}}]})


def test_snakemake_params_round_trip():
    design = _custom(PREPOST, **PREPOST_ANALYSES)
    assert Design.from_dict(design.as_dict()) == design
    part = design.as_dict("periods", "contrasts")
    assert set(part) == {"periods", "contrasts"}
    rebuilt = Design.from_dict(part)
    assert rebuilt.periods == design.periods and rebuilt.groups == ()
    paper = _design()
    assert Design.from_dict(paper.as_dict()) == paper


def test_every_condition_gets_its_own_effect_map():
    """The ROI values read each condition's effect, so a design whose contrasts lack one
    still computes it; a contrast named after a condition must be that condition."""
    design = _custom({"contrasts": [{"name": "diff", "expression": "HE - LE"}]},
                     second_level={"analyses": [{"name": "a", "delta": "delta1",
                                                 "contrast": "diff"}], "conjunctions": []},
                     brain_behaviour={"analyses": []})
    assert design.first_level_contrasts(False) == {"diff": "HE - LE", "HE": "HE", "LE": "LE"}
    with pytest.raises(InputError, match="must be that condition alone"):
        _design(design={"contrasts": [{"name": "HE", "expression": "HE - LE"}]})


@pytest.mark.parametrize("design, key, words", [
    ({"contrasts": [{"name": "x", "expression": "HE / LE"}]}, "design.contrasts (x)",
     "divided by a non-zero number"),
    ({"contrasts": [{"name": "x", "expression": "HE / 0"}]}, "design.contrasts (x)",
     "divided by a non-zero number"),
    ({"change_periods": {"names": ["a", "a"]}}, "design.change_periods.names", "repeated: a"),
    ({"groups": [{"name": "a", "label": "x"}, {"name": "b", "label": "x", "control": True}]},
     "design.groups (label)", "repeated: x"),
    ({"groups": [{"name": "age"}, {"name": "b", "control": True}]}, "design.groups",
     "also covariates"),
    ({"group_contrasts": [{"name": "none", "weights": {"affect": 0}}]},
     "design.group_contrasts (none).weights", "non-zero weight"),
])
def test_contradictory_designs_fail_naming_the_key(design, key, words):
    from ecgap.config import check_analyses
    config = {"design": design, "second_level": {"conjunctions": []},
              "brain_behaviour": {"analyses": []}, "data": {"source": "bids"}}
    with pytest.raises(InputError) as err:
        check_analyses(validate_config(config, SCHEMA))
    assert key in str(err.value) and words in str(err.value)


def test_a_misspelt_rating_score_fails_before_any_job():
    with pytest.raises(InputError, match="'empathie' is not a design rating"):
        _design(brain_behaviour={"analyses": [{"name": "b", "delta": "delta1",
                                               "contrast": "HE", "score": {
                                                   "measure": "empathie", "delta": "delta1"}}]})


def test_configured_group_contrasts_still_give_figure_3a_a_contrast():
    design = _custom({"group_contrasts": [{"name": "trainedUp",
                                           "weights": {"affect": 1, "memory": -1}}]},
                     second_level={"conjunctions": []})
    assert design.primary_contrast == "trainedUp"


def test_the_paper_comparison_needs_the_papers_periods():
    from ecgap.paper import applies_to
    assert applies_to(_design())
    assert not applies_to(_custom({"change_periods": {"reference": "baseline"}},
                                  second_level={"analyses": [{"name": "a", "delta": "delta1",
                                                              "contrast": "HE"}],
                                                "conjunctions": []},
                                  brain_behaviour={"analyses": []}))
    assert not applies_to(_custom({"sessions": ["s1", "s2", "s3"]}))


def test_a_preset_merged_over_the_default_config_is_valid():
    """snakemake --configfile config/prepost.yaml from the repository merges it over
    config/config.yaml: the default must not pin the paper's groups."""
    import yaml
    from snakemake.utils import update_config

    from ecgap.config import check_analyses
    for preset in ("prepost", "three_groups"):
        config = yaml.safe_load((REPO / "config/config.yaml").read_text())
        update_config(config, yaml.safe_load((REPO / f"config/{preset}.yaml").read_text()))
        check_analyses(validate_config(config, SCHEMA))
