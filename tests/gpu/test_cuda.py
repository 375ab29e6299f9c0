"""On a CUDA GPU only (marked `gpu`, skipped elsewhere by tests/conftest.py): the precision paths of
training and scoring, moving checkpoints between devices, and the scoring memory that predict's budget
assumes. `make test-gpu` runs them; the GPU benchmark's tiny mode is run on the GPU too."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.benchmarks import run_bench_gpu
import torch

from patch2loc.registry import implementation
from patch2loc.methods.patch2loc.heatmap import score_volume
from patch2loc.methods.patch2loc.model import Patch2LocNet, load_model
from patch2loc.methods.patch2loc.train import Patch2LocTask, TrainConfig, train
from patch2loc.training.training_data import TrainingData
from patch2loc.predict.budget import LOOP

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


def brains(n: int, shape=(48, 48, 8), seed: int = 0):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij", sparse=True)
    mask = (x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.95) ** 2 <= 1
    images = [(0.6 + 0.2 * ndimage.gaussian_filter(rng.normal(size=shape), 2)) * mask for _ in range(n)]
    return np.stack(images).astype(np.float32), np.broadcast_to(mask, (n, *shape)).copy()


def data(n: int = 4) -> TrainingData:
    images, masks = brains(n)
    names = {"train": [f"t{i}" for i in range(n - 1)], "val": ["v"]}
    return TrainingData(images[:-1], masks[:-1], images[-1:], masks[-1:], names, (1.0, 1.0, 1.0))


@pytest.mark.parametrize("variant", ["none", "bf16", "fp16", "bf16-cl", "fp16-cl"])
def test_patch2loc_trains_in_every_precision(variant):
    amp, _, cl = variant.partition("-")
    cfg = TrainConfig(patches_per_step=512, amp=amp, channels_last=cl == "cl", device="cuda")
    torch.manual_seed(0)
    task = Patch2LocTask(data(), cfg, 6, CUDA)
    before = [p.detach().clone() for p in task.model.parameters()]
    losses = [float(task.train_step(i)) for i in range(5)]
    assert all(np.isfinite(losses)), losses
    assert task.scaler.is_enabled() == (amp == "fp16")
    assert any(not torch.equal(a, b) for a, b in zip(before, task.model.parameters()))


def test_heatmap_on_cuda_agrees_with_the_cpu_and_across_precisions():
    torch.manual_seed(0)
    model = Patch2LocNet(6).eval()
    images, masks = brains(1, seed=3)
    cpu = score_volume(model, images[0], masks[0], device="cpu", amp="none").score
    maps = {
        amp: score_volume(model, images[0], masks[0], device="cuda", amp=amp).score for amp in ("none", "bf16", "fp16")
    }
    brain = masks[0]
    diff = {amp: np.abs(m - cpu)[brain] for amp, m in maps.items()}
    print({amp: (float(d.max()), float(d.mean())) for amp, d in diff.items()})
    assert diff["none"].max() < 0.05  # fp32 (TF32 convolutions) against the CPU's fp32
    for amp in ("bf16", "fp16"):
        assert diff[amp].mean() < 0.05 and diff[amp].max() < 1.0, amp


def test_checkpoints_move_between_cpu_and_cuda(tmp_path):
    d = data()
    for device in ("cuda", "cpu"):
        cfg = TrainConfig(steps=2, val_every=1, val_batches=1, patches_per_step=256, device=device)
        train(d.train_images, d.train_masks, d.val_images, d.val_masks, cfg, tmp_path / device, progress=False)
        on_cpu, _ = load_model(str(tmp_path / device / "best.pt"), "cpu")
        on_cuda, _ = load_model(str(tmp_path / device / "best.pt"), "cuda")
        assert next(on_cuda.parameters()).device.type == "cuda"
        a = score_volume(on_cpu, d.val_images[0], d.val_masks[0], device="cpu", amp="none").score
        b = score_volume(on_cuda, d.val_images[0], d.val_masks[0], device="cuda", amp="none").score
        assert np.abs(a - b)[d.val_masks[0]].max() < 0.05, device


@pytest.mark.parametrize("batch", [4096, 16384])
def test_patch2loc_scoring_peak_is_within_predicts_budget(batch):
    """What predict's budget counts for the scoring stage (LOOP x grid + the batch's activations) is at
    or above the GPU memory the dense heatmap takes at the paper's patch size and grid."""
    torch.manual_seed(0)
    model = Patch2LocNet(24).eval().to(CUDA)
    images, masks = brains(1, shape=(192, 192, 100))
    grid = images[0].shape
    budget = LOOP * np.prod(grid) + implementation("Patch2Loc").activation_bytes(grid, {"batch_size": batch}, 24)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    score_volume(model, images[0], masks[0], device="cuda", amp="auto", batch_size=batch)
    peak = torch.cuda.max_memory_allocated() - base
    print(f"batch {batch}: peak {peak / 2**20:.0f} MiB, budget {budget / 2**20:.0f} MiB")
    assert peak <= budget


def test_the_gpu_benchmark_runs_every_part_on_cuda(tmp_path):
    out = tmp_path / "tiny.json"
    done = run_bench_gpu(out, "cuda", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["environment"]["gpu"] and record["results"]["patch2loc_training"]["bf16"]["peak_gib"] > 0
