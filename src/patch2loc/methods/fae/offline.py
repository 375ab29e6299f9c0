"""FAE-random, FAE's offline variant (docs/fae.md): the same feature autoencoder, block `fae:` and
training on a randomly initialised, frozen ResNet-18 (the reference's `--random_extractor`),
without the published file; shown under its own name everywhere (registry `variant_of`)."""

from __future__ import annotations

from patch2loc.methods.binding import offline_variant
from patch2loc.methods.fae import train as fae_train
from patch2loc.methods.fae.method import REFERENCE_PROTOCOL, RANGES, activation_bytes, score
from patch2loc.methods.fae.score import load_model

Settings, load, train_from_files = offline_variant(
    "FAE-random", fae_train.FAEConfig, fae_train.train_from_files, load_model
)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "Settings", "activation_bytes", "load", "score", "train_from_files"]
