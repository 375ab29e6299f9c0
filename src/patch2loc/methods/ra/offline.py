"""RA-noLPIPS, RA's offline variant (docs/ra.md): the same Soft-IntroVAE, block `ra:` and training,
without the published SqueezeNet and LPIPS heads, so its map is the CLAHE residual alone; shown
under its own name everywhere (registry `variant_of`)."""

from __future__ import annotations

from dataclasses import dataclass

from patch2loc.methods.ra import score as ra_score, train as ra_train
from patch2loc.methods.ra.method import REFERENCE_PROTOCOL, RANGES, ScoreOptions, activation_bytes
from patch2loc.methods.ra.method import training_footprint
from patch2loc.networks.pretrained import RANDOM
from patch2loc.training.binding import bind_family

__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs


@dataclass
class RAnoLPIPSConfig(ra_train.RAConfig):
    """RA's block `ra:` built without the published SqueezeNet and LPIPS heads."""

    method: str = "RA-noLPIPS"  # in its checkpoints: no table, figure or bundle shows it under the paper's name
    weights: str = RANDOM


# the name in its checkpoints is its own: `load` refuses the paper's
Settings, load, score, train_from_files = bind_family(RAnoLPIPSConfig, ra_score, ra_train)
