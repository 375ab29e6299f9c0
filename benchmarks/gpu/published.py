"""Stand-ins for the published networks RA, PHANES and FAE build on (networks/pretrained.py FILES):
random weights of the published shapes, written once into a temporary cache and registered there,
as the tests do (tests/helpers/published.py). The speed of a network does not depend on its weights."""

from __future__ import annotations

import atexit
import functools
import shutil
import sys
import tempfile

from gpu.common import REPO

if str(REPO) not in sys.path:  # the tests' helpers: one definition of a stand-in's tensors
    sys.path.insert(0, str(REPO))

from tests.helpers.published import fake_published  # noqa: E402


class _Registry:
    """What fake_published needs of pytest's monkeypatch: set an item, for the benchmark's life."""

    @staticmethod
    def setitem(mapping: dict, key, value) -> None:
        mapping[key] = value


@functools.lru_cache(maxsize=None)
def stand_in_home(keys: tuple[str, ...]) -> str:
    """A cache folder holding stand-ins of the published files `keys`, registered in pretrained.FILES."""
    from pathlib import Path

    home = Path(tempfile.mkdtemp(prefix="bench-published-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # 82 MB of stand-ins, gone with the run
    fake_published(keys, home, _Registry())
    return str(home)
