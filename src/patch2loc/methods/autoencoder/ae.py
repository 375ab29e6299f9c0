"""Baur et al.'s dense autoencoder (MedIA 2021): its settings are the `ae:` config block (docs/ae-vae.md)."""

from patch2loc.methods.autoencoder.variants import AEConfig, bind, training_footprint
from patch2loc.methods.autoencoder.protocol import (
    BAUR as REFERENCE_PROTOCOL,
)  # its authors' evaluation (docs/protocols.md)
from patch2loc.interface import NoScoreOptions as ScoreOptions

Settings, load, score, train_from_files, activation_bytes, RANGES = bind(AEConfig)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs
