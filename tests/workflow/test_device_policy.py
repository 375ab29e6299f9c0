"""Device policy: a CUDA-required job without CUDA stops at once, naming the env and the fix for its
build (a CPU-only build: rebuild the env with CONDA_OVERRIDE_CUDA; a CUDA build: a GPU node);
without the requirement it goes on (on the CPU). A stand-in `torch` module plays each build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"
CALL = """
import sys, types
sys.path.insert(0, {scripts!r})
from _common import require_cuda
require_cuda(types.SimpleNamespace(rule="train_model", params={{"require_cuda": {required}}}))
print("went on")
"""
FAKE_TORCH = """
import types
__version__ = "2.14.1"
version = types.SimpleNamespace(cuda={cuda!r})
cuda = types.SimpleNamespace(is_available=lambda: False)
"""


def _run(tmp_path: Path, required: bool, cuda: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "torch.py").write_text(FAKE_TORCH.format(cuda=cuda), encoding="utf-8")
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    return subprocess.run(
        [sys.executable, "-c", CALL.format(scripts=str(SCRIPTS), required=required)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "cuda, fix",
    [
        (None, ["CPU-only build", "CONDA_OVERRIDE_CUDA", "pytorch-gpu", "device.torch_build: cpu"]),
        ("13.0", ["CUDA 13.0 build that sees no GPU", "GPU node", "device.require_cuda: false"]),
    ],
)
def test_cuda_required_and_absent_stops_with_the_env_and_the_fix(tmp_path, cuda, fix):
    res = _run(tmp_path, True, cuda)
    assert res.returncode == 2 and "went on" not in res.stdout
    assert "device.require_cuda" in res.stderr and all(f in res.stderr for f in fix), res.stderr
    assert sys.prefix in res.stderr  # names the env whose torch has no CUDA
    assert len(res.stderr.strip().splitlines()) == 1  # one line


def test_cuda_not_required_goes_on_without_it(tmp_path):
    res = _run(tmp_path, False, None)
    assert res.returncode == 0 and "went on" in res.stdout
