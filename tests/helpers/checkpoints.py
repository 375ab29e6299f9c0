"""Tiny checkpoints: `as_written` (the fields every checkpoint patch2loc writes carries, around a
test's own), and those of the slice-reconstruction methods (shared by test_predict_dae.py,
test_predict_diffusion.py, test_rebuild.py, settings.py and tests/helpers/hostile_child_fixture.py)."""

from __future__ import annotations

from pathlib import Path

import torch

from patch2loc.methods.dae.model import DenoisingUNet
from patch2loc.methods.diffusion.train import model_of
from patch2loc.run.checkpoint import FORMAT, save_checkpoint
from tests.helpers.safety import SHAPE

RANGE = {"p1": 0.0, "p99": 1.0, "volumes": 1}  # a training intensity range as training records it
NORMALISED = {"p1": 0.0, "p99": 1.2, "volumes": 1}  # a normalised scan's in-brain range (98th percentile 1)


def as_written(fields: dict, method: str = "Patch2Loc", grid=SHAPE, modality: str | None = "T1") -> dict:
    """`fields` (the weights, a method's own fields, and what a test changes) over what the training
    harness writes into every checkpoint: the checkpoint format, the method, the modality, and a
    config with the training grid, the channels and the training intensity range (a `config` in
    `fields` is laid over that one)."""
    config = {"volume_shape": list(grid), "modality": modality, "channels": 1, "intensity_range": RANGE}
    return {
        "format": FORMAT,
        "method": method,
        "modality": modality,
        **fields,
        "config": {**config, **fields.get("config", {})},
    }


def dae_checkpoint(path: Path, seed: int, modality: str = "T1") -> Path:
    """A DAE best.pt as the workflow's training writes it (with the state only resuming needs)."""
    torch.manual_seed(seed)
    model = DenoisingUNet(width=4, depth=4)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        path,
        {
            **as_written({"model": model.state_dict(), "config": {"width": 4, "depth": 4}}, "DAE", modality=modality),
            "step": 3,
            "optimizer": {"state": {0: {"exp_avg": torch.ones(3)}}},
            "loss_rows": [[1, 0.5]],
        },
    )
    return path


DIFFUSION = {  # a tiny diffusion model's settings on SHAPE; SETTINGS lays each method's own over them
    "width": 8,
    "mults": [1, 2],
    "blocks": 1,
    "dropout": 0.0,
    "timesteps": 1000,
    "encoder": None,
    "patch_size": None,
    "rescale": 1,
    "test_steps": [500],
    "noise_octaves": 6,
    "noise_persistence": 0.8,
    "noise_frequency_px": 8.0,
    "seed": 3141,
    "volume_shape": list(SHAPE),
}
SETTINGS = {"DDPM": {}, "pDDPM": {"patch_size": 8}, "cDDPM": {"encoder": "resnet18", "test_steps": [250, 500, 750]}}


def diffusion_checkpoint(path: Path, method: str, seed: int, modality: str = "T1") -> Path:
    config = {**DIFFUSION, "modality": modality, **SETTINGS[method]}
    torch.manual_seed(seed)
    model = model_of(config)
    for p in model.unet.head.parameters():
        torch.nn.init.normal_(p, std=0.1)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        path, {**as_written({"model": model.state_dict(), "config": config}, method, modality=modality), "step": 3}
    )
    return path
