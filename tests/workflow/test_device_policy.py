"""Device policy: a CUDA-required job without CUDA stops at once, naming the env and the fix for its
build (a CPU-only build: rebuild the env with CONDA_OVERRIDE_CUDA; a CUDA build: a GPU node);
without the requirement it goes on (on the CPU). A stand-in `torch` module plays each build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "workflow" / "scripts"
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


# `auto` without torch where no NVIDIA driver is loaded (workflow/scripts/score_dataset.py): a method
# without a network (Thresh) is scored with no torch import on a CPU-only site.
THRESH_JOB = """
import sys, tempfile
from pathlib import Path
import numpy as np, nibabel as nib
from patch2loc.checks import devices
from patch2loc.evaluation.dataset.score_dataset import Scan, ScoringConfig, score_lesions
from patch2loc.run.configfiles import load
devices.DRIVER_PATHS = ()  # as on a machine without a GPU driver
demo = load([Path({config!r})])
tmp = Path({tmp!r})
image = np.random.default_rng(0).random((16, 16, 8)).astype(np.float32)
mask, seg = np.zeros_like(image), np.zeros_like(image)
mask[2:14, 2:14, 1:7], seg[6:9, 6:9, 3:5] = 1, 1
for name, data in (("image", image), ("mask", mask), ("seg", seg)):
    nib.save(nib.Nifti1Image(data, np.diag([4.0, 4.0, 4.0, 1.0])), tmp / f"{{name}}.nii.gz")
cfg = ScoringConfig.from_workflow(demo["heatmap"], {{**demo["evaluate"], "space": "atlas"}}, device=devices.auto_device_name())
scan = Scan("s", *(str(tmp / f"{{n}}.nii.gz") for n in ("image", "mask", "seg")))
meta = {{"method": "Thresh", "modality": "T2", "fold": "", "dataset": "MSLUB"}}
metrics, _, _ = score_lesions("Thresh", [scan], cfg, meta, 0.5, tmp / "maps", None)
print(cfg.device, len(metrics), "torch" in sys.modules)
"""


def test_auto_is_the_cpu_without_asking_torch_where_no_driver_is_loaded(monkeypatch, tmp_path):
    from patch2loc.checks import devices

    monkeypatch.setattr(devices, "resolve_device", lambda name: pytest.fail("torch was asked"))
    monkeypatch.setattr(devices, "DRIVER_PATHS", (str(tmp_path / "absent"),))
    assert devices.no_gpu_driver() == (sys.platform == "linux")
    if sys.platform == "linux":
        assert devices.auto_device_name() == "cpu"
    monkeypatch.setattr(devices, "DRIVER_PATHS", (str(tmp_path),))  # a driver: torch decides
    with pytest.raises(pytest.fail.Exception, match="torch was asked"):
        devices.auto_device_name()


def test_no_driver_means_torch_finds_no_gpu_here():
    import torch

    from patch2loc.checks.devices import no_gpu_driver

    assert not (no_gpu_driver() and torch.cuda.is_available()), "a usable GPU where no driver path is seen"


def test_thresh_is_scored_without_importing_torch(tmp_path):
    code = THRESH_JOB.format(config=str(REPO / "config" / "demo.yaml"), tmp=str(tmp_path))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split()[-3:] == ["cpu", "1", "False"], res.stdout
