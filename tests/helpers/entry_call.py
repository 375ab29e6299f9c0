"""Runs a library function as an entry point, for the hostile tests' child processes:

    python tests/helpers/entry_call.py --call module:function JSON

an InputError prints one line and exits 2, as the CLI does; anything else shows its traceback. Run
with PYTHONPATH=src, this folder first on the path: it imports nothing of tests/ but its neighbours
that import only the package (hostile_surface_files)."""

from __future__ import annotations

import json
import sys


def call_entry(function: str, kwargs: str) -> int:
    from patch2loc.errors import InputError

    module, name = function.split(":")
    target = getattr(__import__(module, fromlist=[name]), name)
    try:
        target(**json.loads(kwargs))
    except InputError as exc:
        print(f"{function}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "--call":
        sys.exit("usage: entry_call.py --call module:function JSON")
    sys.exit(call_entry(sys.argv[2], sys.argv[3]))
