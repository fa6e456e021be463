"""The paper design's numbers stay what they were before the design model (issue 22).

The goldens in tests/golden/ were made by tests/paper_golden.py from the code before
the design moved into the config; these tests fail on any change of a table, a
simulated file or a map of the paper design.
"""

from __future__ import annotations

import json

import pytest

from paper_golden import GOLDEN, differences, paper_behaviour, run_snapshot


def _golden(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text())


def _assert_same(expected: dict, actual: dict, rtol: float) -> None:
    found = differences(expected, actual, rtol)
    assert not found, f"{len(found)} differences, first ones:\n" + "\n".join(found[:20])


def test_paper_behaviour_tables_and_simulated_files_are_unchanged():
    """Same simulated files to the byte, same tables to 1e-12 (BLAS-order noise only)."""
    expected, actual = _golden("paper_behaviour.json"), paper_behaviour()
    assert actual["files"] == expected["files"]
    _assert_same(expected["tables"], actual["tables"], rtol=1e-12)


@pytest.mark.workflow
def test_tiny_run_tables_and_maps_are_unchanged(tiny_run):
    """Every table and image of the tiny run, from simulated BOLD to the conjunctions."""
    _assert_same(_golden("tiny_run.json"), run_snapshot(tiny_run), rtol=1e-6)
