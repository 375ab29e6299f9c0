"""The floors of pyproject.toml (each requirement's lower bound, which `make pins` writes from
envs/packages.yaml) against what an interpreter holds: `make test-oldest` installs the oldest
release each floor admits and runs this before the tests, so a resolver that drifted upwards
cannot pass for the floors.

    python -m rehearsals.envs.floors     (run by the interpreter to check; exit 1 if one is off)

A floor A.B is met by an A.B.x release (A.B.0 where the index has it; the oldest A.B release it
has otherwise); the local build label (+cpu) is ignored.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import Version

from rehearsals.envs.spec import REPO

EXTRAS = ("demo", "workflow")  # the extras a user installs to run the workflow (`make install`)


def floors(pyproject=REPO / "pyproject.toml") -> dict[str, str]:
    """PyPI name -> its floor, for the package's requirements and EXTRAS."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] + [r for e in EXTRAS for r in project["optional-dependencies"].get(e, [])]
    out = {}
    for line in lines:
        req = Requirement(line)
        lower = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
        if lower:
            out[req.name] = max(lower, key=Version)
    return out


def off_floor(floor: str, installed: str | None) -> bool:
    if installed is None:
        return True
    want, have = Version(floor).release, Version(installed).release
    return have[: len(want)] != want


def main() -> int:
    bad = 0
    for name, floor in sorted(floors().items(), key=lambda kv: kv[0].lower()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = None
        wrong = off_floor(floor, have)
        bad += wrong
        print(f"{name:28} floor {floor:8} installed {have or 'none':14} {'NOT THE FLOOR' if wrong else 'ok'}")
    if bad:
        print(f"{bad} package(s) not at their floor: the tests would not test the floors.", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
