"""DAE training: reconstruct clean axial slices of normal brains from coarse-noise-corrupted ones.

One step = `batch_size` axial slices drawn uniformly (with replacement) among the training
volumes' slices that hold brain, coarse noise added inside the brain mask, L2 loss between the
reconstruction and the clean slice inside the mask (mean over all pixels, as the reference),
gradient norm clipped to `grad_clip`, one Adam step (amsgrad, weight decay) at a learning rate on
a half-cosine from `lr` to 0 over the run. Validation: a fixed set of slices of the validation
subjects with fixed noise, drawn once with a generator of its own. The loop, checkpoints, resume
and best model by validation loss are the shared harness's (`training.harness`).

Co-registered contrasts (docs/multimodal.md): volumes [S, C, X, Y, Z] with one brain mask per
subject train a UNet with C channels in and out, each contrast corrupted by its own noise, as the
reference trains on the 4 BraTS contrasts (AntanasKascenas/DenoisingAE @8e5a9df
src/denoising.py l. 25, 72); [S, X, Y, Z] is one contrast, trained exactly as before.
"""

from __future__ import annotations

from functools import partial
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from patch2loc.checks.intensities import contrast_ranges
from patch2loc.errors import InputError
from patch2loc.methods.dae.bounds import NOISE, RANGES  # the network's and the noise's bounds
from patch2loc.methods.dae.model import DenoisingUNet
from patch2loc.methods.dae.noise import coarse_noise, noise_cells
from patch2loc.training.harness import (
    LOOP_MUST_MATCH,
    LoopSettings,
    autocast_context,
    check_settings,
    scheduled_lr,
    set_lr,
    train_seeded,
)
from patch2loc.training.resume import NothingExtra
from patch2loc.training.training_data import Pairs, TrainingData, check_same_grid, load_training_data
from patch2loc.run.settings import config_from_dict
from patch2loc.checks.ranges import check_block

COLUMNS = ("step", "train_loss", "val_loss", "val_recon_error")
# Settings that change what is trained; resuming with a different value is refused.
RESUME_MUST_MATCH = (
    "batch_size",
    "lr",
    "weight_decay",
    "grad_clip",
    "width",
    "depth",
    "noise_std",
    "noise_cells",
    "steps",
    "channels",
    *LOOP_MUST_MATCH,
)


@dataclass
class DAEConfig(LoopSettings):
    """DAE settings; defaults are the reference's where it has one (see docs/dae.md)."""

    steps: int = 67200  # the reference: 2,100 epochs of 32 batches
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 1e-5
    grad_clip: float = 0.5
    width: int = 64  # channels at the top level of the UNet (64, 128, 256, 512 below)
    depth: int = 4
    noise_std: float = 0.2
    noise_cell_mm: float = 15.9  # distance between noise-grid nodes (the reference: 16 nodes on 240 mm)

    def __post_init__(self) -> None:
        check_settings(self, "DAEConfig", "dae.device")
        if self.batch_size < 1:
            raise InputError("DAEConfig: batch_size must be positive.")
        check_block(asdict(self), RANGES, "dae", "DAE config")  # a checkpoint's config is held to the same
        check_block(asdict(self), NOISE, "dae", "DAE config")

    @classmethod
    def from_dict(cls, d: dict) -> "DAEConfig":
        """Build from a dict (e.g. the workflow's `dae` block), refusing unknown keys by name."""
        return config_from_dict(cls, d, "DAE config")


def channel_count(images: np.ndarray, masks: np.ndarray) -> int:
    """Contrasts in a stack [S, X, Y, Z] (1) or [S, C, X, Y, Z] with masks [S, X, Y, Z]."""
    if images.ndim not in (4, 5) or masks.shape != images.shape[:1] + images.shape[-3:]:
        raise InputError(
            f"DAE training: images {images.shape} and masks {masks.shape} must be [subjects, X, Y, Z] or "
            "[subjects, contrasts, X, Y, Z] with masks [subjects, X, Y, Z]. Stack volumes of one shape."
        )
    return 1 if images.ndim == 4 else images.shape[1]


def brain_slices(images: np.ndarray, masks: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The axial slices [N, C, X, Y] (image times mask) and masks [N, 1, X, Y] of stacks
    [S, (C,) X, Y, Z] that hold brain, in (subject, slice) order: one copy, on the device."""
    channels = channel_count(images, masks)
    keep = masks.any(axis=(1, 2))  # [S, Z]
    order = (0, 3, 1, 2)
    stack = images.reshape(len(images), channels, *images.shape[-3:])  # [S, C, X, Y, Z], a view
    slices = np.ascontiguousarray(stack.transpose(0, 4, 1, 2, 3)[keep])
    fg = np.ascontiguousarray(masks.transpose(order)[keep])
    if not len(slices):
        raise InputError("DAE training: no axial slice holds brain; check the brain masks.")
    fg_t = torch.from_numpy(fg).unsqueeze(1).to(device)
    return torch.from_numpy(slices).to(device) * fg_t, fg_t


def denoising_loss(reconstruction: torch.Tensor, clean: torch.Tensor, foreground: torch.Tensor) -> torch.Tensor:
    """Squared error inside the foreground, averaged over every pixel (the reference's loss)."""
    return ((reconstruction.float() - clean) ** 2 * foreground).mean()


class DAETask(NothingExtra):
    """The harness's view of DAE training (`training.harness.TrainingTask`)."""

    method = "DAE"
    columns = COLUMNS

    def __init__(self, data: TrainingData, cfg: DAEConfig, cells: tuple[int, int], device: torch.device):
        self.cfg, self.cells, self.device = cfg, cells, device
        self.slices, self.foreground = brain_slices(data.train_images, data.train_masks, device)
        val_slices, val_fg = brain_slices(data.val_images, data.val_masks, device)
        val_gen = torch.Generator(device).manual_seed(cfg.seed + 1)  # never touches the training stream
        self.val_set = []
        for _ in range(cfg.val_batches):
            idx = torch.randint(len(val_slices), (cfg.batch_size,), generator=val_gen, device=device)
            clean, fg = val_slices[idx], val_fg[idx]
            noise = coarse_noise(fg, cells, cfg.noise_std, val_gen, channels=clean.shape[1])
            self.val_set.append((clean, fg, clean + noise))
        self.generator = torch.Generator(device).manual_seed(cfg.seed)
        self.model = DenoisingUNet(cfg.width, cfg.depth, self.slices.shape[1]).to(device)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=cfg.lr, amsgrad=True, weight_decay=cfg.weight_decay
        )

    def train_step(self, step: int) -> torch.Tensor:
        cfg = self.cfg
        set_lr(self.optimizer, scheduled_lr(cfg.lr, step, cfg.steps, "cosine"))  # nothing to save for resume
        idx = torch.randint(len(self.slices), (cfg.batch_size,), generator=self.generator, device=self.device)
        clean, fg = self.slices[idx], self.foreground[idx]
        noisy = clean + coarse_noise(fg, self.cells, cfg.noise_std, self.generator, channels=clean.shape[1])
        with autocast_context(self.device, cfg.amp):
            reconstruction = self.model(noisy)
        loss = denoising_loss(reconstruction, clean, fg)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss (noisy input, as in training) and the mean |x - reconstruction| inside
        the brain of the clean slices (per contrast): the anomaly score's level on normal tissue."""
        self.model.eval()
        loss, error, brain = 0.0, 0.0, 0.0
        for clean, fg, noisy in self.val_set:
            with autocast_context(self.device, self.cfg.amp):
                loss += denoising_loss(self.model(noisy), clean, fg).item()
                error += ((self.model(clean).float() - clean).abs() * fg).sum().item()
            brain += fg.sum().item() * clean.shape[1]
        return {"val_loss": loss / len(self.val_set), "val_recon_error": error / max(brain, 1.0)}


def train(data: TrainingData, cfg: DAEConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """Train a DAE on stacked volumes; write last.pt, best.pt, loss.csv in `out_dir`."""
    channels = channel_count(data.train_images, data.train_masks)
    check_same_grid(data.train_images, data.val_images)
    shape = data.train_images.shape[-3:]
    cells = (
        noise_cells(shape[0], data.spacing[0], cfg.noise_cell_mm),
        noise_cells(shape[1], data.spacing[1], cfg.noise_cell_mm),
    )
    if cells[0] > max(shape[0], 2) or cells[1] > max(shape[1], 2):  # nodes finer than the pixels: noise
        raise InputError(
            f"DAE config: dae.noise_cell_mm {cfg.noise_cell_mm:g} mm is finer than the training grid's "
            f"{min(data.spacing[:2]):g} mm pixels ({cells[0]} x {cells[1]} nodes on {shape[0]} x {shape[1]} "
            "pixels); use at least the voxel side (the reference: 15.9 mm)."
        )
    # The grid, the voxel size, the noise grid and the training intensities are recorded (predict
    # checks the grid and a scan's intensity scale).
    config = {
        **asdict(cfg),
        "volume_shape": list(shape),
        "spacing": list(data.spacing),
        "noise_cells": list(cells),
        "channels": channels,
        **contrast_ranges(data.train_images, data.train_masks, channels),
    }
    task = partial(DAETask, data, cfg, cells)
    return train_seeded(task, data, cfg, out_dir, config, must_match=RESUME_MUST_MATCH, progress=progress)


def train_from_files(
    train_pairs: Pairs, val_pairs: Pairs, cfg: DAEConfig, out_dir: str | Path, progress: bool = True
) -> dict:
    return train(load_training_data(train_pairs, val_pairs), cfg, out_dir, progress)
