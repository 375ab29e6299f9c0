"""PHANES as the workflow and predict call a method (see `patch2loc.registry`): train, load, score."""

from __future__ import annotations

from patch2loc.training.binding import bind_family
from patch2loc.methods.phanes import score as phanes_score, train as phanes_train
from patch2loc.methods.phanes.protocol import (
    BERCEA as REFERENCE_PROTOCOL,
)  # its authors' evaluation (docs/protocols.md)
from patch2loc.methods.phanes.score import batch_bytes
from patch2loc.training.train_memory import Footprint, network_bytes, slice_side
from patch2loc.methods.phanes.score import PER_INPAINT_PIXEL, PER_WIDTH, build_network
from patch2loc.interface import NoScoreOptions as ScoreOptions

# its config block (`phanes:`) as Settings; load and score through score.py
Settings, load, score, train_from_files = bind_family(phanes_train.PHANESConfig, phanes_score, phanes_train)
RANGES = phanes_train.RANGES  # the bounds of the settings that build its networks
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """Bytes one batch of slices of a `grid` volume holds in RA's network and the inpainter (predict's
    budget, taken before the models are read: the paper's 128 x 128 grid and width 64); score.BOUNDS
    holds a checkpoint's own size and width to the budget when it is loaded."""
    return batch_bytes({"size": Settings.size, "width": Settings.width, "volume_shape": grid})


def training_footprint(cfg, config: dict, grid, channels: int) -> Footprint:
    """What one training step holds beside the data (training/train_memory.py): RA's network and the
    inpainter, its scoring's per-pixel bytes."""
    side = slice_side(cfg.size, grid)
    sample = side * side * (PER_WIDTH * cfg.width + PER_INPAINT_PIXEL)
    return Footprint(sample, cfg.batch_size, network_bytes(build_network, config), side)
