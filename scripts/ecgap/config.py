"""Config validation against the JSON schema, with defaults filled in.

Messages name the offending key as a dotted path (``simulate.grid_mm``) and what is
allowed there, so a wrong value fails before any job runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ecgap.design import Design, DesignError
from ecgap.io import InputError

#: The workflow's config schema (config/schema/config.schema.yaml in the repository).
SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema" / "config.schema.yaml"


def _with_defaults(validator_class: type) -> type:
    """A validator that fills ``default`` values in before validating the properties."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = _copy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


def load_schema(path: str | Path) -> dict[str, Any]:
    with open(path) as handle:
        return yaml.safe_load(handle)


def validate_config(config: dict[str, Any], schema_path: str | Path = SCHEMA) -> dict[str, Any]:
    """Fill defaults into ``config`` in place and raise an InputError on the first bad key."""
    schema = load_schema(schema_path)
    validator = _with_defaults(jsonschema.Draft7Validator)(schema)
    # Defaults must land before the checks that depend on them, so fill them in first.
    for _ in validator.iter_errors(config):
        pass
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise InputError(_key(errors[0]), _describe(errors[0]))
    _sort_keys(config)
    return config


def _sort_keys(node: Any) -> Any:
    """Sort every mapping's keys in place (recursively).

    Snakemake compares a rule's params in their key order, so a config whose keys were
    merely reordered (or whose defaults were filled in a different order) would rerun
    jobs; sorted keys make the params depend on the values only.
    """
    if isinstance(node, dict):
        items = sorted((k, _sort_keys(v)) for k, v in node.items())
        node.clear()
        node.update(items)
    elif isinstance(node, list):
        for item in node:
            _sort_keys(item)
    return node


def _key(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return f"config key {path}" if path else "config"


def _describe(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"{error.instance!r} is not allowed; allowed values: {allowed}"
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(schema.get("properties", {})))
        return f"{error.message}; known keys here: {allowed}"
    hint = schema.get("description", "")
    return f"{error.message}" + (f" ({hint})" if hint else "")


def design_from_config(config: dict[str, Any]) -> Design:
    """The study design of a validated config; a contradiction is an InputError that
    names the config key.

    The defaults that depend on the design are filled into ``config`` as well (the
    brain-behaviour group, each conjunction's group contrast), so that rules and scripts
    reading the config see the values the design resolved.
    """
    try:
        design = Design.from_config(config)
    except DesignError as err:
        raise InputError(f"config key {err.key}", err.message) from None
    config["brain_behaviour"]["group"] = design.brain_behaviour_group
    for entry, conjunction in zip(config["second_level"]["conjunctions"], design.conjunctions):
        entry["contrast"] = conjunction.group_contrast
    return design


def check_analyses(config: dict[str, Any]) -> Design:
    """Cross-key checks the schema cannot express (the design's own: unique names,
    known periods, contrasts and analyses; one high-pass filter; the engine's
    connectivity); return the design."""
    check_drift_model(config)
    group = config["second_level"]
    if group["engine"] == "nilearn" and group["connectivity"] != 6:
        raise InputError("config key second_level.connectivity", "the nilearn permutation "
                         "engine forms 6-connected clusters only; use engine: ecgap for 18 "
                         "or 26")
    design = design_from_config(config)
    bb = config["brain_behaviour"]
    covariates = set(config["data"]["covariates"]) | set(bb["covariates"] or [])
    clash = sorted(covariates & set(design.group_names))
    if clash:
        raise InputError("config key design.groups", f"group name(s) {clash} are also "
                         "covariates; rename the group")
    if group["engine"] == "nilearn" and any(c.kind == "F" for c in design.group_contrasts):
        raise InputError("config key second_level.engine", "the F contrast of three or more "
                         "groups needs the ecgap permutation engine (engine: ecgap)")
    if config["data"]["source"] == "simulate":
        check_simulation(config, design)
    return design


#: Region sets a planted change can use, by name, and their regions (ecgap.regions).
def _region_sets() -> dict[str, list[str]]:
    from ecgap.regions import REGION_SETS
    return {name: list(regions) for name, regions in REGION_SETS.items()}


def check_simulation(config: dict[str, Any], design: Design) -> None:
    """The simulate section's planted effects must name the design's groups, ratings,
    conditions and steps."""
    sim, steps = config["simulate"], len(design.steps)
    groups, ratings, conditions = design.group_names, design.rating_names, design.condition_names

    def need(ok: bool, key: str, problem: str) -> None:
        if not ok:
            raise InputError(f"config key simulate.{key}", problem)

    def names(kind: str, value: str, allowed: list[str], key: str) -> None:
        need(value in allowed, key, f"{value!r} is not a design {kind} ({', '.join(allowed)})")

    need(set(sim["group_sizes"]) == set(groups), "group_sizes",
         f"needs one size per design group ({', '.join(groups)}), got "
         f"{', '.join(sim['group_sizes']) or 'none'}")
    behaviour, imaging = sim["behaviour"], sim["imaging"]
    for group in behaviour["ages"]:
        names("group", group, groups, "behaviour.ages")
    for rating, values in behaviour["base_ratings"].items():
        names("rating", rating, ratings, "behaviour.base_ratings")
        need(len(values) == len(conditions), f"behaviour.base_ratings.{rating}",
             f"needs one mean per condition ({', '.join(conditions)})")
    for i, entry in enumerate(behaviour["rating_changes"]):
        names("rating", entry["rating"], ratings, f"behaviour.rating_changes.{i}.rating")
        names("group", entry["group"], groups, f"behaviour.rating_changes.{i}.group")
        need(entry["step"] <= steps, f"behaviour.rating_changes.{i}.step",
             f"the design has {steps} step(s) between sessions")
    extra = behaviour["condition_x_group"]
    if extra is not None:
        names("rating", extra["rating"], ratings, "behaviour.condition_x_group.rating")
        names("group", extra["group"], groups, "behaviour.condition_x_group.group")
        need(len(conditions) > 1, "behaviour.condition_x_group",
             "needs two or more conditions (or null)")
    for i, entry in enumerate(behaviour["score_changes"]):
        names("group", entry["group"], groups, f"behaviour.score_changes.{i}.group")
        need(entry["step"] <= steps, f"behaviour.score_changes.{i}.step",
             f"the design has {steps} step(s) between sessions")
    need(len(design.scores) <= 2, "behaviour.score_changes", "the simulator writes at most "
         "two score columns (words recalled and recalled in position): shorten "
         "design.scores.columns")
    _check_imaging(imaging, design, need, names)


def _check_imaging(imaging: dict[str, Any], design: Design, need, names) -> None:
    sets, steps = _region_sets(), len(design.steps)
    for condition in imaging["condition_extra"]:
        names("condition", condition, design.condition_names, "imaging.condition_extra")
    seen = []
    for i, change in enumerate(imaging["changes"]):
        need(change["name"] not in seen, f"imaging.changes.{i}.name", "names must be unique")
        seen.append(change["name"])
        need(change["step"] <= steps, f"imaging.changes.{i}.step",
             f"the design has {steps} step(s) between sessions")
        for group in change["groups"]:
            names("group", group, design.group_names, f"imaging.changes.{i}.groups")
        for condition in change["condition_fraction"]:
            names("condition", condition, design.condition_names,
                  f"imaging.changes.{i}.condition_fraction")
    link = imaging["link"]
    if link is not None:
        names("rating", link["rating"], design.rating_names, "imaging.link.rating")
        holders = [c["name"] for c in imaging["changes"]
                   if c["step"] == link["step"] and link["region"] in sets[c["regions"]]]
        need(bool(holders), "imaging.link", f"no change at step {link['step']} plants "
             f"{link['region']!r}")


def check_drift_model(config: dict[str, Any]) -> None:
    """fMRIPrep's cosines come in through the confound strategy's ``high_pass``; nilearn's
    cosine drift through ``first_level.drift_model``. Exactly one of them filters."""
    drift = config["first_level"]["drift_model"]
    in_confounds = "high_pass" in config["preprocess"]["confounds"]["strategy"]
    if drift == "fmriprep_cosines" and not in_confounds:
        raise InputError("config key first_level.drift_model", "fmriprep_cosines needs "
                         "high_pass in preprocess.confounds.strategy (or choose cosine or "
                         "none)")
    if drift != "fmriprep_cosines" and in_confounds:
        raise InputError("config key first_level.drift_model", f"{drift} with high_pass in "
                         "preprocess.confounds.strategy would filter twice (or not as "
                         "asked); drop high_pass from the strategy or choose "
                         "fmriprep_cosines")
