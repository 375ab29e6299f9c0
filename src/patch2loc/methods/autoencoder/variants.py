"""The AE and the VAE as the workflow calls a method (see `patch2loc.methods`): train, load, score.

The two share Baur et al.'s network, training loop and scoring; the VAE's code is variational and
its loss has the KL term (`kl_weight`). Their config blocks are `ae:` and `vae:`.
"""

from __future__ import annotations

from dataclasses import dataclass

from patch2loc.methods.autoencoder import score as _score
from patch2loc.methods.autoencoder import train as _train
from patch2loc.methods.binding import bind_family


@dataclass
class AEConfig(_train.AutoencoderConfig):
    """The dense AE (models/autoencoder.py): one dense code, L1 loss."""

    method: str = "AE"


@dataclass
class VAEConfig(_train.AutoencoderConfig):
    """The dense VAE (models/variational_autoencoder.py): a Gaussian code, L1 + KL loss."""

    kl_weight: float = 1.0  # the reference's loss is rec + KL (trainers/VAE.py:42)
    method: str = "VAE"
    variational = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.kl_weight >= 0:
            raise _train.InputError(f"VAE config: kl_weight {self.kl_weight} must be >= 0.")


def bind(config_cls) -> tuple:
    """(Settings, load, score, train_from_files, activation_bytes) of the model `config_cls` configures,
    as a method module has them (`Settings` is `config_cls`, the dataclass of its config block)."""

    def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
        """What one batch of slices holds while scoring a volume of `grid` (predict's memory budget);
        the model's grid is taken as the slice's or 128, whichever is larger."""
        side = max(grid[0], grid[1], _train.AutoencoderConfig.size)
        return _score.SLICES_PER_BATCH * (side * side * _score.ACTIVATION + grid[0] * grid[1] * 16)

    return (*bind_family(config_cls, _score, _train), activation_bytes)
