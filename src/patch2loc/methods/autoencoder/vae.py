"""Baur et al.'s dense variational autoencoder (MedIA 2021): its settings are the `vae:` config block
(docs/ae-vae.md)."""

from patch2loc.methods.autoencoder.variants import VAEConfig, bind

Settings, load, score, train_from_files, activation_bytes = bind(VAEConfig)
__all__ = ["Settings", "activation_bytes", "load", "score", "train_from_files"]
