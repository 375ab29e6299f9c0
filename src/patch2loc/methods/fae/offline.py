"""FAE-random, FAE's offline variant (docs/fae.md): the same feature autoencoder, block `fae:` and
training on a randomly initialised, frozen ResNet-18 (the reference's `--random_extractor`),
without the published file; shown under its own name everywhere (registry `variant_of`)."""

from __future__ import annotations

from dataclasses import dataclass

from patch2loc.methods.fae import score as fae_score, train as fae_train
from patch2loc.methods.fae.method import REFERENCE_PROTOCOL, RANGES, ScoreOptions, activation_bytes
from patch2loc.methods.fae.method import training_footprint
from patch2loc.networks.pretrained import RANDOM
from patch2loc.training.binding import bind_family

__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs


@dataclass
class FAErandomConfig(fae_train.FAEConfig):
    """FAE's block `fae:` on a randomly initialised, frozen ResNet-18."""

    method: str = "FAE-random"  # in its checkpoints: no table, figure or bundle shows it under the paper's name
    weights: str = RANDOM


# the name in its checkpoints is its own: `load` refuses the paper's
Settings, load, score, train_from_files = bind_family(FAErandomConfig, fae_score, fae_train)
