"""RA-noLPIPS, RA's offline variant (docs/ra.md): the same Soft-IntroVAE, block `ra:` and training,
without the published SqueezeNet and LPIPS heads, so its map is the CLAHE residual alone; shown
under its own name everywhere (registry `variant_of`)."""

from __future__ import annotations

from patch2loc.methods.binding import offline_variant
from patch2loc.methods.ra import train as ra_train
from patch2loc.methods.ra.method import REFERENCE_PROTOCOL, RANGES, activation_bytes, score
from patch2loc.methods.ra.score import load_model

Settings, load, train_from_files = offline_variant(
    "RA-noLPIPS", ra_train.RAConfig, ra_train.train_from_files, load_model
)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "Settings", "activation_bytes", "load", "score", "train_from_files"]
