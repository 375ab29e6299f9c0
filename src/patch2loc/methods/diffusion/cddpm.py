"""cDDPM, the conditioned DDPM (Behrendt et al. 2025): the DDPM also sees the code of the slice from an
encoder pre-trained as a masked autoencoder (rule pretrain_cddpm) and fine-tuned with it.

The workflow's view of it (`patch2loc.registry`); its settings are the `cddpm:` config block.
"""

from __future__ import annotations

from pathlib import Path

from patch2loc.methods.diffusion import pretrain
from patch2loc.methods.diffusion.bounds import RANGES
from patch2loc.methods.diffusion.protocol import (
    BEHRENDT_CONDITIONED as REFERENCE_PROTOCOL,
)  # its authors' evaluation (docs/protocols.md)
from patch2loc.methods.diffusion.variants import CDDPMConfig, activation_bytes, bind, training_footprint
from patch2loc.interface import NoScoreOptions as ScoreOptions

Settings, load, score, _train_from_files = bind(CDDPMConfig)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs
ENCODER_FOLDER = "encoder"  # the pre-training's folder inside out_dir when no encoder_checkpoint is given


def train_from_files(
    train_pairs, val_pairs, settings: dict, out_dir, *, modality: str, threads: int, progress: bool = True
) -> dict:
    """The workflow passes the pre-trained encoder (`encoder_checkpoint`, its own rule and model folder).
    Called without one (`patch2loc train --method cDDPM`, the registry-wide tests) but with a
    `pretrain:` block, the pre-training runs first, into out_dir/encoder/ (resumed like any training),
    so the method trains as the reference does from any front end; `pretrain: null` trains the
    encoder from scratch."""
    settings = dict(settings)
    if settings.get("encoder_checkpoint") is None and settings.get("pretrain") is not None:
        folder = Path(out_dir) / ENCODER_FOLDER
        pretrain.train_from_files(
            train_pairs, val_pairs, settings, folder, modality=modality, threads=threads, progress=progress
        )
        settings["encoder_checkpoint"] = str(folder / "best.pt")
    return _train_from_files(
        train_pairs, val_pairs, settings, out_dir, modality=modality, threads=threads, progress=progress
    )
