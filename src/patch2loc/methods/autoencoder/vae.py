"""Baur et al.'s dense variational autoencoder (MedIA 2021): its settings are the `vae:` config block
(docs/ae-vae.md)."""

from patch2loc.methods.autoencoder.variants import VAEConfig, bind, training_footprint
from patch2loc.methods.autoencoder.protocol import (
    BAUR as REFERENCE_PROTOCOL,
)  # its authors' evaluation (docs/protocols.md)
from patch2loc.interface import NoScoreOptions as ScoreOptions

Settings, load, score, train_from_files, activation_bytes, RANGES = bind(VAEConfig)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs
