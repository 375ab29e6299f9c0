"""Rerun the anatomy derivation's slow steps and file exactly their results in the package
(patch2loc.synth.anatomy_steps.SHIPPED): after a change to the derivation, its inputs, ROBEX's glue or
a tool's version, when tests/synth/test_demo_anatomy.py says a step's result is not shipped.

    python tools/ship_anatomy_steps.py      # about 6 minutes on one core
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from patch2loc.synth import anatomies  # noqa: E402
from patch2loc.synth.anatomy_steps import SHIPPED, Steps  # noqa: E402


def ship() -> list[Path]:
    """Run every step of every derived source (nothing read) and make SHIPPED hold exactly their results."""
    with tempfile.TemporaryDirectory(prefix="p2l-steps-") as tmp:
        steps = Steps(read=None, write=Path(tmp) / "steps")
        for name in anatomies.DERIVED:
            (Path(tmp) / name).mkdir()
            anatomies.derive(name, Path(tmp) / name, steps)
        SHIPPED.mkdir(exist_ok=True)
        for path in steps.files:
            shutil.copyfile(path, SHIPPED / path.name)
    kept = {path.name for path in steps.files}
    for stale in [p for p in SHIPPED.iterdir() if p.name not in kept]:
        stale.unlink()
    return sorted(SHIPPED / name for name in kept)


if __name__ == "__main__":
    if sys.argv[1:]:
        sys.exit("usage: python tools/ship_anatomy_steps.py  (reruns the steps and rewrites their shipped results)")
    for path in ship():
        print(path)
