"""DDPM with simplex noise (Wyatt et al. 2022) as Behrendt et al.'s harness runs it: the whole slice noised, x0
predicted from step 500.

The workflow's view of it (`patch2loc.registry`); its settings are the `ddpm:` config block.
"""

from patch2loc.methods.diffusion.bounds import RANGES
from patch2loc.methods.diffusion.protocol import (
    BEHRENDT as REFERENCE_PROTOCOL,
)  # its authors' evaluation (docs/protocols.md)
from patch2loc.methods.diffusion.variants import DDPMConfig, activation_bytes, bind, training_footprint
from patch2loc.interface import NoScoreOptions as ScoreOptions

Settings, load, score, train_from_files = bind(DDPMConfig)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs
