"""The fixtures both budget test files use (inputs/test_budgets_hostile.py, bundle/test_bundle_budgets_hostile.py):
a case folder with its own temporary folder, and a refusal run in this process or in a child process."""

from __future__ import annotations

import tempfile

import pytest

from tests.helpers.hostile import refused_in_child
from tests.helpers.safety import make_case, refused

# in this process (fast), or in a child process whose peak memory is measured (slow)
MODES = [pytest.param(False, id="in-process"), pytest.param(True, id="child", marks=pytest.mark.slow)]


@pytest.fixture()
def c(tmp_path, monkeypatch):
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # what would be left there is seen
    return make_case(tmp_path / "in")


@pytest.fixture()
def refuse(tmp_path, capsys):
    def run(child: bool, argv: list[str], needle: str) -> str:
        if child:
            return refused_in_child(argv, needle, tmp_path)[0]
        return refused(argv, needle, tmp_path, capsys)

    return run
