"""PHANES-noPretrained, PHANES' offline variant (docs/phanes.md): the same networks, block `phanes:`
and joint training, without the published SqueezeNet, LPIPS heads and VGG-19: saliency 1 (the
residual alone) in the training mask and in the map, and the inpainter trained on L1 alone (the
adversarial term never reaches the generator, as in the reference); shown under its own name
everywhere (registry `variant_of`)."""

from __future__ import annotations

from patch2loc.methods.binding import offline_variant
from patch2loc.methods.phanes import train as phanes_train
from patch2loc.methods.phanes.method import REFERENCE_PROTOCOL, RANGES, activation_bytes, score
from patch2loc.methods.phanes.score import load_model

Settings, load, train_from_files = offline_variant(
    "PHANES-noPretrained", phanes_train.PHANESConfig, phanes_train.train_from_files, load_model
)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "Settings", "activation_bytes", "load", "score", "train_from_files"]
