"""cDDPM, the conditioned DDPM (Behrendt et al. 2024): the DDPM with a pre-trained encoder's code.

The workflow's view of it (`patch2loc.methods`); its settings are the `cddpm:` config block.
"""
from patch2loc.methods.diffusion.variants import CDDPMConfig, bind

load, score, train_from_files = bind(CDDPMConfig)
__all__ = ["load", "score", "train_from_files"]
