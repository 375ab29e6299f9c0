"""FAE as the workflow and predict call a method (see `patch2loc.registry`): train, load, score."""

from __future__ import annotations

from patch2loc.training.binding import bind_family
from patch2loc.methods.fae import score as fae_score, train as fae_train
from patch2loc.methods.fae.protocol import MEISSEN as REFERENCE_PROTOCOL  # its authors' evaluation (docs/protocols.md)
from patch2loc.methods.fae.score import batch_bytes
from patch2loc.training.train_memory import Footprint, network_bytes, slice_side
from patch2loc.methods.fae.score import PER_MODEL_PIXEL, build_network
from patch2loc.interface import NoScoreOptions as ScoreOptions

# its config block (`fae:`) as Settings; load and score through score.py
Settings, load, score, train_from_files = bind_family(fae_train.FAEConfig, fae_score, fae_train)
RANGES = fae_train.RANGES  # the bounds of the settings that build its network
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """What one batch of slices holds while scoring a volume of `grid` (predict's memory budget,
    predict/budget.py); the model's grid is taken as the slice's or the paper's 128, whichever is
    larger. A checkpoint's own size is held to the budget when it is loaded (score.BOUNDS)."""
    side = max(grid[0], grid[1], Settings.size)
    return batch_bytes({"size": side, "volume_shape": grid})


def training_footprint(cfg, config: dict, grid, channels: int) -> Footprint:
    """What one training step holds beside the data (training/train_memory.py): its scoring's per-pixel bytes."""
    side = slice_side(cfg.size, grid)
    return Footprint(side * side * PER_MODEL_PIXEL, cfg.batch_size, network_bytes(build_network, config), side)
