"""The suite's file order under xdist: the minutes-long tests start first (tests/conftest.py), and
every pytest line of the Makefile that hands out whole files keeps that order."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import pytest_collection_modifyitems

ROOT = Path(__file__).resolve().parents[2]


class _Item:
    def __init__(self, nodeid: str, *markers: str):
        self.nodeid, self.markers = nodeid, set(markers)

    def get_closest_marker(self, name):
        return name if name in self.markers else None


def test_files_with_a_starts_first_test_then_slow_files_lead_and_each_file_stays_whole_in_order():
    items = [
        _Item("tests/a/test_quick.py::t1"),
        _Item("tests/a/test_slowish.py::t1"),
        _Item("tests/a/test_slowish.py::t2", "slow"),
        _Item("tests/b/test_quick.py::t1"),
        _Item("tests/z/test_tiny_run.py::t1"),
        _Item("tests/z/test_tiny_run.py::t2", "starts_first", "slow"),
    ]
    pytest_collection_modifyitems(None, items)
    assert [i.nodeid for i in items] == [
        "tests/z/test_tiny_run.py::t1",
        "tests/z/test_tiny_run.py::t2",
        "tests/a/test_slowish.py::t1",
        "tests/a/test_slowish.py::t2",
        "tests/a/test_quick.py::t1",
        "tests/b/test_quick.py::t1",
    ]


def test_every_makefile_run_that_hands_out_files_keeps_the_collection_order():
    """xdist's default reorders files by test count, which would put the tiny run (one test) last."""
    lines = [line for line in (ROOT / "Makefile").read_text().splitlines() if "--dist loadfile" in line]
    assert lines, "no pytest line of the Makefile hands out whole files"
    assert all(re.search(r"--no-loadscope-reorder\b", line) for line in lines), lines
