"""RA as the workflow and predict call a method (see `patch2loc.registry`): train, load, score."""

from __future__ import annotations

from patch2loc.training.binding import bind_family
from patch2loc.methods.ra import score as ra_score, train as ra_train
from patch2loc.methods.ra.protocol import BERCEA as REFERENCE_PROTOCOL  # its authors' evaluation (docs/protocols.md)
from patch2loc.methods.ra.score import batch_bytes
from patch2loc.training.train_memory import Footprint, network_bytes, slice_side
from patch2loc.methods.ra.score import PER_WIDTH, build_network
from patch2loc.interface import NoScoreOptions as ScoreOptions

# its config block (`ra:`) as Settings; load and score through score.py
Settings, load, score, train_from_files = bind_family(ra_train.RAConfig, ra_score, ra_train)
RANGES = ra_train.RANGES  # the bounds of the settings that build its network
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """What one batch of slices holds while scoring a volume of `grid` (predict's memory budget, before
    the models are read); the model's grid is taken as the paper's 128 and width 64. A checkpoint's own
    size and width are held to the budget when it is loaded (score.BOUNDS)."""
    config = {"size": Settings.size, "width": Settings.width, "volume_shape": grid}
    return batch_bytes(config)


def training_footprint(cfg, config: dict, grid, channels: int) -> Footprint:
    """What one training step holds beside the data (training/train_memory.py): its scoring's per-pixel bytes."""
    side = slice_side(cfg.size, grid)
    return Footprint(side * side * PER_WIDTH * cfg.width, cfg.batch_size, network_bytes(build_network, config), side)
