"""DDPM (Behrendt et al. 2023): simplex noise on the whole slice, x0 predicted at step 500.

The workflow's view of it (`patch2loc.methods`); its settings are the `ddpm:` config block.
"""
from patch2loc.methods.diffusion.variants import DDPMConfig, bind

load, score, train_from_files = bind(DDPMConfig)
__all__ = ["load", "score", "train_from_files"]
