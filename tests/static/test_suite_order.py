"""The suite's order (tests/conftest.py): the files of the longest tests first, so that with `-n` a file of
several minutes does not start after the fast ones and hold one worker alone at the end."""

from __future__ import annotations

from pathlib import Path
import pytest

from tests.conftest import file_rank


class _Item:
    """What the ranking reads of a pytest item: its file and its `slow` marker."""

    def __init__(self, path: str, mark=None):
        self.path, self._mark = Path(path), mark

    def get_closest_marker(self, name: str):
        return self._mark if name == "slow" else None


def test_the_longest_files_come_first_then_the_slow_ones_each_file_in_its_order():
    fast = _Item("a_fast.py")
    slow = _Item("b_slow.py", pytest.mark.slow.mark)
    slow_sibling = _Item("b_slow.py")  # a quick test in a slow file stays with its file
    five = _Item("c_five.py", pytest.mark.slow(minutes=5).mark)
    seven = _Item("d_seven.py", pytest.mark.slow(minutes=7).mark)
    items = [fast, slow, slow_sibling, five, seven]
    items.sort(key=file_rank(items).__getitem__)
    assert items == [seven, five, slow, slow_sibling, fast]
