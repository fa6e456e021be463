"""The config schema: defaults, and errors that name the key and the allowed values."""

import copy

import pytest
import yaml

from ecgap.config import validate_config
from ecgap.io import InputError

from conftest import REPO, TINY

SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"


def _load(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", [REPO / "config" / "config.yaml",
                                  REPO / "config" / "paper.yaml", TINY])
def test_shipped_configs_are_valid(path):
    config = validate_config(_load(path), SCHEMA)
    assert config["design"]["sessions"] == ["pre", "post1", "post2"]
    assert config["simulate"]["imaging"]["ar1"] == 0.3  # filled-in default


def test_key_order_does_not_matter():
    """Snakemake compares params in key order: the validated config's keys are sorted."""
    original = _load(TINY)
    reordered = {k: (dict(reversed(list(v.items()))) if isinstance(v, dict) else v)
                 for k, v in reversed(list(original.items()))}
    a = validate_config(original, SCHEMA)
    b = validate_config(reordered, SCHEMA)
    assert yaml.safe_dump(a, sort_keys=False) == yaml.safe_dump(b, sort_keys=False)
    assert list(a["simulate"]["imaging"]) == sorted(a["simulate"]["imaging"])


def test_paper_preset_has_paper_size():
    config = validate_config(_load(REPO / "config" / "paper.yaml"), SCHEMA)
    assert config["simulate"]["group_sizes"] == {"affect": 25, "memory": 28}
    assert config["simulate"]["task"]["videos_per_type"] == 12


def test_every_schema_property_has_default_and_description():
    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            assert "description" in sub, f"{path}{name} lacks a description"
            assert "default" in sub, f"{path}{name} lacks a default"
            walk(sub, f"{path}{name}.")
    walk(_load(SCHEMA), "")


@pytest.mark.parametrize("patch, key, words", [
    ({"data": {"source": "openneuro"}}, "data.source", "'simulate', 'bids'"),
    ({"simulate": {"grid_mm": "four"}}, "simulate.grid_mm", "not of type 'number'"),
    ({"simulate": {"grid_mm": 1}}, "simulate.grid_mm", "less than the minimum"),
    ({"simulate": {"group_sizes": {"affect": 2.5}}}, "simulate.group_sizes.affect",
     "not of type 'integer'"),
    ({"design": {"sessions": ["pre"]}}, "design.sessions", "too short"),
    ({"design": {"sessions": ["pre", "../x", "post2"]}}, "design.sessions.1", "does not match"),
    ({"simulate": {"task": {"videos_per_type": 7}}}, "simulate.task.videos_per_type",
     "multiple of 3"),
    ({"simlate": {}}, "config", "'simlate' was unexpected"),
])
def test_bad_values_name_the_key(patch, key, words):
    config = copy.deepcopy(patch)
    with pytest.raises(InputError) as err:
        validate_config(config, SCHEMA)
    assert key in str(err.value)
    assert words in str(err.value)
