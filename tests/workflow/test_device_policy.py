"""Device policy: a CUDA-required job without CUDA stops at once, naming the env and
CONDA_OVERRIDE_CUDA; without the requirement it goes on (on the CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"
CALL = """
import sys, types
sys.path.insert(0, {scripts!r})
from _common import require_cuda
require_cuda(types.SimpleNamespace(rule="train_model", params={{"require_cuda": {required}}}))
print("went on")
"""


def _run(required: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU, also on a machine that has one
    return subprocess.run(
        [sys.executable, "-c", CALL.format(scripts=str(SCRIPTS), required=required)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cuda_required_and_absent_stops_with_the_env_and_the_fix():
    res = _run(True)
    assert res.returncode == 2 and "went on" not in res.stdout
    assert "device.require_cuda" in res.stderr and "CONDA_OVERRIDE_CUDA" in res.stderr
    assert sys.prefix in res.stderr  # names the env whose torch has no CUDA


def test_cuda_not_required_goes_on_without_it():
    res = _run(False)
    assert res.returncode == 0 and "went on" in res.stdout
