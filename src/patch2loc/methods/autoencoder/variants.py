"""The AE and the VAE as the workflow calls a method (see `patch2loc.registry`): train, load, score.

The two share Baur et al.'s network, training loop and scoring; the VAE's code is variational and
its loss has the KL term (`kl_weight`). Their config blocks are `ae:` and `vae:`.
"""

from __future__ import annotations

from dataclasses import dataclass

from patch2loc.methods.autoencoder import score as _score
from patch2loc.methods.autoencoder import train as _train
from patch2loc.training.binding import bind_family
from patch2loc.training.train_memory import Footprint, network_bytes, slice_side


@dataclass
class AEConfig(_train.AutoencoderConfig):
    """The dense AE (models/autoencoder.py): one dense code, L1 loss."""

    method: str = "AE"


@dataclass
class VAEConfig(_train.AutoencoderConfig):
    """The dense VAE (models/variational_autoencoder.py): a Gaussian code, L1 + KL loss."""

    kl_weight: float = 1.0  # the reference's loss is rec + KL (trainers/VAE.py:42); bounds: train.VAE_RANGES
    method: str = "VAE"
    variational = True


def bind(config_cls) -> tuple:
    """(Settings, load, score, train_from_files, activation_bytes, RANGES) of the model `config_cls`
    configures, as a method module has them (`Settings` is `config_cls`, the dataclass of its config block)."""

    def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
        """What one batch of slices holds while scoring a volume of `grid` (predict's memory budget,
        before the models are read); the model's grid is taken as the slice's or the paper's 128,
        whichever is larger. A checkpoint's own size and width are held to the budget when it is
        loaded (score.BOUNDS)."""
        side = max(grid[0], grid[1], _train.AutoencoderConfig.size)
        config = {"size": side, "width": _train.AutoencoderConfig.width, "volume_shape": grid}
        return _score.batch_bytes(config)

    rules = _train.VAE_RANGES if config_cls.variational else _train.RANGES
    return (*bind_family(config_cls, _score, _train), activation_bytes, rules)


def training_footprint(cfg, config: dict, grid, channels: int) -> Footprint:
    """What one training step of the AE or VAE holds beside the data (training/train_memory.py): its
    scoring's per-pixel bytes."""
    side = slice_side(cfg.size, grid)
    sample = side * side * _score.PER_FILTER * cfg.width
    return Footprint(sample, cfg.batch_size, network_bytes(_score.build_network, config), side)
