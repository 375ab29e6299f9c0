"""Baur et al.'s dense variational autoencoder (MedIA 2021): its settings are the `vae:` config block
(docs/ae-vae.md)."""

from patch2loc.methods.autoencoder.variants import VAEConfig, bind
from patch2loc.methods.autoencoder.protocol import (
    BAUR as REFERENCE_PROTOCOL,
)  # its authors' evaluation (docs/protocols.md)

Settings, load, score, train_from_files, activation_bytes, RANGES = bind(VAEConfig)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "Settings", "activation_bytes", "load", "score", "train_from_files"]
