"""PHANES-noPretrained, PHANES' offline variant (docs/phanes.md): the same networks, block `phanes:`
and joint training, without the published SqueezeNet, LPIPS heads and VGG-19: saliency 1 (the
residual alone) in the training mask and in the map, and the inpainter trained on L1 alone (the
adversarial term never reaches the generator, as in the reference); shown under its own name
everywhere (registry `variant_of`)."""

from __future__ import annotations

from dataclasses import dataclass

from patch2loc.methods.phanes import score as phanes_score, train as phanes_train
from patch2loc.methods.phanes.method import REFERENCE_PROTOCOL, RANGES, ScoreOptions, activation_bytes
from patch2loc.methods.phanes.method import training_footprint
from patch2loc.networks.pretrained import RANDOM
from patch2loc.training.binding import bind_family

__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs


@dataclass
class PHANESnoPretrainedConfig(phanes_train.PHANESConfig):
    """PHANES' block `phanes:` built without the published SqueezeNet, LPIPS heads and VGG-19."""

    method: str = (
        "PHANES-noPretrained"  # in its checkpoints: no table, figure or bundle shows it under the paper's name
    )
    weights: str = RANDOM


# the name in its checkpoints is its own: `load` refuses the paper's
Settings, load, score, train_from_files = bind_family(PHANESnoPretrainedConfig, phanes_score, phanes_train)
