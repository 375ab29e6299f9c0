"""Patch2Loc training: Patch2LocNet on beta-NLL, in the shared harness (`training.harness`).

One step = one slice per training subject, `patches_per_step` valid patches from those slices
(`PatchSampler`), one Adam update. Every `val_every` steps (and at the end) the model is scored on
a fixed validation set (drawn once from the validation subjects with its own seed, so validation
never touches the training random stream). Checkpoints, resume (bit-identical on the CPU), the
best model by validation loss and the loss curve are the harness's.
"""

from __future__ import annotations

from functools import partial
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from patch2loc.checks.intensities import contrast_ranges
from patch2loc.errors import InputError
from patch2loc.training.harness import (
    LOOP_MUST_MATCH,
    LR_SCHEDULES,
    LoopSettings,
    autocast_context,
    check_settings,
    scheduled_lr,
    set_lr,
    train_seeded,
)
from patch2loc.methods.patch2loc.loss import beta_nll
from patch2loc.methods.patch2loc.model import Patch2LocNet
from patch2loc.methods.patch2loc.patch_size import patch_size_for
from patch2loc.methods.patch2loc.sampling import PatchSampler, split_channels
from patch2loc.training.training_data import Pairs, TrainingData, check_same_grid, load_training_data
from patch2loc.run.settings import config_from_dict

CSV_COLUMNS = ("step", "train_loss", "val_loss", "val_error", "centre_error")
# Settings that change what is trained; resuming with a different value is refused.
_RESUME_MUST_MATCH = (
    "patches_per_step",
    "lr",
    "lr_schedule",
    "warmup_steps",
    "beta",
    "min_brain_fraction",
    "patch_size",
    "channels",
    *LOOP_MUST_MATCH,
)


@dataclass
class TrainConfig(LoopSettings):
    """Training settings; defaults are the paper's (fp32, Adam 1e-2, 15,000 steps of 8096 patches)."""

    steps: int = 15000
    patches_per_step: int = 8096
    lr: float = 1e-2
    # "constant" as the paper; "cosine": a half-cosine from lr to 0 at `steps` (short demo runs:
    # the last updates are small, so the final model does not hinge on the noise of the last ones).
    lr_schedule: str = "constant"
    warmup_steps: int = 0  # linear warm-up from lr / warmup_steps to lr over these first updates
    beta: float = 0.5
    min_brain_fraction: float = 0.2
    patch_size: int | None = None  # None = patch_size_for(slice side), 24 for 192
    channels_last: bool = False  # NHWC convolutions (can be faster on GPUs with AMP)
    # (val_every, val_batches, seed, device, amp, num_threads, modality, checkpoint_every: LoopSettings;
    # a last.pt is ~140 MB, weights + Adam state, so checkpoint_every may space them out.)

    def __post_init__(self) -> None:
        check_settings(self, "TrainConfig", "--device, patch2loc.device")
        if self.lr_schedule not in LR_SCHEDULES or not 0 <= self.warmup_steps < self.steps:
            raise InputError(
                f"patch2loc.lr_schedule={self.lr_schedule!r}, warmup_steps={self.warmup_steps}: use "
                f"one of "
                f"{', '.join(LR_SCHEDULES)} and 0 <= warmup_steps < steps ({self.steps})."
            )
        if self.patches_per_step < 2:
            raise InputError(
                f"patches per step (--patches, patch2loc.patches_per_step) must be >= 2, got "
                f"{self.patches_per_step}: the heads use BatchNorm, which needs 2 or more."
            )

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build from a dict (e.g. a YAML section), refusing unknown keys with their names."""
        return config_from_dict(cls, d, "training config")


def train_step(
    model: Patch2LocNet,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    patches: torch.Tensor,
    target: torch.Tensor,
    slice_pos: torch.Tensor,
    cfg: TrainConfig,
) -> torch.Tensor:
    """One Adam update on one batch; returns the (detached) loss without syncing the device."""
    with autocast_context(patches.device, cfg.amp):
        mean, logvar = model(patches, slice_pos)
    loss = beta_nll(mean, logvar, target, cfg.beta)  # computed in fp32 whatever the autocast
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()


@torch.no_grad()
def evaluate(model: Patch2LocNet, batches: list[tuple[torch.Tensor, ...]], beta: float, amp: str) -> dict:
    """Validation loss, mean Euclidean location error, and the error of always predicting the
    mean target of these patches (the 'centre' baseline a model must beat), all in percent."""
    model.eval()
    device = batches[0][0].device
    loss_sum, err_sum, n = 0.0, 0.0, 0
    for patches, target, slice_pos in batches:
        with autocast_context(device, amp):
            mean, logvar = model(patches, slice_pos)
        loss_sum += beta_nll(mean, logvar, target, beta).item() * len(target)
        err_sum += torch.linalg.vector_norm(target - mean.float(), dim=1).sum().item()
        n += len(target)
    targets = torch.cat([b[1] for b in batches])
    centre = torch.linalg.vector_norm(targets - targets.mean(0), dim=1).mean().item()
    model.train()
    return {"val_loss": loss_sum / n, "val_error": err_sum / n, "centre_error": centre}


class Patch2LocTask:
    """The harness's view of Patch2Loc training (`training.harness.TrainingTask`): one step = one
    slice per training subject, `patches_per_step` valid patches from those slices, one Adam update;
    validation on a fixed patch set drawn once from the validation subjects with its own seed."""

    method = "Patch2Loc"
    columns = CSV_COLUMNS

    def __init__(self, data, cfg: TrainConfig, patch_size: int, device: torch.device):
        self.cfg, self.patch_size = cfg, patch_size
        self.sampler = PatchSampler(data.train_images, data.train_masks, patch_size, cfg.min_brain_fraction, device)
        val_sampler = PatchSampler(data.val_images, data.val_masks, patch_size, cfg.min_brain_fraction, device)
        val_gen = torch.Generator(device).manual_seed(cfg.seed + 1)  # never touches the training stream
        self.val_set = [val_sampler.sample(cfg.patches_per_step, val_gen) for _ in range(cfg.val_batches)]
        self.generator = torch.Generator(device).manual_seed(cfg.seed)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = Patch2LocNet(patch_size, self.sampler.channels).to(device).to(memory_format=self.memory_format)
        # fused: one kernel per parameter instead of ~10 passes over memory (1.5x the step rate on a CPU).
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, fused=True)
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")

    def train_step(self, step: int) -> torch.Tensor:
        cfg = self.cfg
        if cfg.lr_schedule != "constant" or cfg.warmup_steps:  # constant: the paper's, untouched
            set_lr(self.optimizer, scheduled_lr(cfg.lr, step, cfg.steps, cfg.lr_schedule, cfg.warmup_steps))
        patches, target, slice_pos = self.sampler.sample(self.cfg.patches_per_step, self.generator)
        return train_step(
            self.model,
            self.optimizer,
            self.scaler,
            patches.contiguous(memory_format=self.memory_format),
            target,
            slice_pos,
            self.cfg,
        )

    def evaluate(self) -> dict:
        return evaluate(self.model, self.val_set, self.cfg.beta, self.cfg.amp)

    def extra_state(self) -> dict:
        return {
            "patch_size": self.patch_size,
            **({"grad_scaler": self.scaler.state_dict()} if self.scaler.is_enabled() else {}),
        }

    def load_extra_state(self, ckpt: dict) -> None:
        if "grad_scaler" in ckpt:
            self.scaler.load_state_dict(ckpt["grad_scaler"])


def train(
    train_images: np.ndarray,
    train_masks: np.ndarray,
    val_images: np.ndarray,
    val_masks: np.ndarray,
    cfg: TrainConfig,
    out_dir: str | Path,
    subjects: dict | None = None,
    progress: bool = True,
) -> dict:
    """Train on stacked volumes [S, X, Y, Z], or [S, C, X, Y, Z] for C co-registered contrasts
    (+ bool brain masks [S, X, Y, Z]); write last.pt, best.pt, loss.csv
    (`training.harness.run_training`: resume, best by validation loss, checkpoints).

    Returns a summary: final step, best step and validation loss, last row of the loss curve, paths.
    """
    channels = split_channels(train_images, train_masks, "training volumes")
    check_same_grid(train_images, val_images)
    grid = train_images.shape[-3:]
    patch_size = cfg.patch_size or patch_size_for(grid[0])
    # The resolved patch size, the training grid and intensities are recorded for inference (predict checks them).
    config = {
        **asdict(cfg),
        "patch_size": patch_size,
        "volume_shape": list(grid),
        "channels": channels,
        **contrast_ranges(train_images, train_masks, channels),
    }
    subjects = subjects or {
        "train": [f"train_{i:03d}" for i in range(len(train_images))],
        "val": [f"val_{i:03d}" for i in range(len(val_images))],
    }
    data = TrainingData(train_images, train_masks, val_images, val_masks, subjects, (1.0, 1.0, 1.0))
    # A schedule that ends at `steps` cannot be resumed towards another end.
    must_match = _RESUME_MUST_MATCH + (("steps",) if cfg.lr_schedule != "constant" else ())
    summary = train_seeded(
        partial(Patch2LocTask, data, cfg, patch_size),
        data,
        cfg,
        out_dir,
        config,
        must_match=must_match,
        progress=progress,
    )
    return {**summary, "patch_size": patch_size}


def train_from_files(
    train_pairs: Pairs, val_pairs: Pairs, cfg: TrainConfig, out_dir: str | Path, progress: bool = True
) -> dict:
    """Load (image, brain mask) NIfTI pairs with `io.load_case`, then `train`. Subject ids (file
    stems, or folder names when stems repeat) are recorded in the checkpoints."""
    data = load_training_data(train_pairs, val_pairs)
    return train(
        data.train_images, data.train_masks, data.val_images, data.val_masks, cfg, out_dir, data.subjects, progress
    )
