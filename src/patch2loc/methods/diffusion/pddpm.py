"""pDDPM, the patched DDPM (Behrendt et al. 2024): one square of a fixed grid noised at a time, the rest of
the slice as context, the squares' predictions stitched into the reconstruction.

The workflow's view of it (`patch2loc.registry`); its settings are the `pddpm:` config block.
"""

from patch2loc.methods.diffusion.bounds import RANGES
from patch2loc.methods.diffusion.protocol import (
    BEHRENDT as REFERENCE_PROTOCOL,
)  # its authors' evaluation (docs/protocols.md)
from patch2loc.methods.diffusion.variants import PDDPMConfig, activation_bytes, bind, training_footprint
from patch2loc.interface import NoScoreOptions as ScoreOptions

Settings, load, score, train_from_files = bind(PDDPMConfig)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs
