"""The DAE as the workflow and predict call a method (see `patch2loc.registry`): train, load, score."""

from __future__ import annotations

from patch2loc.methods.dae import train as dae_train
from patch2loc.methods.dae.score import anomaly_map, load_model as load
from patch2loc.training.binding import map_scorer, workflow_trainer
from patch2loc.methods.dae.protocol import KASCENAS as REFERENCE_PROTOCOL  # its authors' evaluation (docs/protocols.md)
from patch2loc.training.train_memory import Footprint, network_bytes, slice_side
from patch2loc.methods.dae.score import build_network
from patch2loc.interface import NoScoreOptions as ScoreOptions

Settings = dae_train.DAEConfig  # its config block (`dae:`)
RANGES = dae_train.RANGES  # the bounds of the settings that build its network
score = map_scorer(anomaly_map)
train_from_files = workflow_trainer(Settings, dae_train.train_from_files)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs
SLICES, ACTIVATION = 16, 1600  # slices per batch of anomaly_map; bytes per slice pixel (a width-64 UNet's levels)


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """What one batch of slices holds while scoring a volume of `grid` (predict's memory budget,
    predict/budget.py)."""
    return SLICES * grid[0] * grid[1] * ACTIVATION


def training_footprint(cfg, config: dict, grid, channels: int) -> Footprint:
    """What one training step holds beside the data (training/train_memory.py): its scoring's
    per-pixel bytes, scaled by its width (a width-64 UNet's levels)."""
    side = slice_side(None, grid)
    sample = side * side * ACTIVATION * cfg.width // 64 * channels
    return Footprint(sample, cfg.batch_size, network_bytes(build_network, config), side)
