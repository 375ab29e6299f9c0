"""DDPM, pDDPM and cDDPM as the workflow calls a method (see `patch2loc.registry`): train, load, score.

The three differ only in their
settings (their config blocks `ddpm:`, `pddpm:`, `cddpm:`) and the name written into checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from patch2loc.methods.diffusion import score as _score
from patch2loc.methods.diffusion import train as _train
from patch2loc.training.binding import bind_family
from patch2loc.methods.diffusion.bounds import FIXED, SLICES_PER_BATCH, scoring_bytes
from patch2loc.training.train_memory import Footprint, network_bytes, slice_side


@dataclass
class DDPMConfig(_train.DiffusionConfig):
    """The DDPM (Wyatt et al. 2022, in Behrendt et al.'s configuration): simplex noise on the whole slice."""

    method: str = "DDPM"


@dataclass
class PDDPMConfig(_train.DiffusionConfig):
    """The patched DDPM: noise in one 48-pixel square of a fixed grid at a time, the rest as context."""

    patch_size: int | None = 48
    method: str = "pDDPM"


@dataclass
class CDDPMConfig(_train.DiffusionConfig):
    """The conditioned DDPM: the UNet also sees a ResNet-50's code of the clean slice (pre-trained as a
    masked autoencoder); reconstructions at steps 250, 500 and 750 are averaged."""

    steps: int = 13200  # the reference: 1,200 epochs of 11 batches
    encoder: str | None = "resnet50"
    test_steps: list = field(default_factory=lambda: [250, 500, 750])
    method: str = "cDDPM"


def bind(config_cls) -> tuple:
    """(Settings, load, score, train_from_files) of the model `config_cls` configures (`bind_family`)."""
    return bind_family(config_cls, _score, _train)


def training_footprint(cfg, config: dict, grid, channels: int) -> Footprint:
    """What one training step of a diffusion model holds beside the data (training/train_memory.py):
    one slice's share of its scoring batch's bytes."""
    sample = (scoring_bytes(config, grid) - FIXED) // min(SLICES_PER_BATCH, int(grid[2]))
    side = slice_side(None, grid)
    return Footprint(sample, cfg.batch_size, network_bytes(_score.build_network, config), side)


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """0 before the models are read: a diffusion model's scoring memory depends on its own settings,
    held to the budget when its checkpoint is loaded (score.BOUNDS, bounds.scoring_bytes)."""
    return 0
