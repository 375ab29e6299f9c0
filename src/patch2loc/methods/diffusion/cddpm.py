"""cDDPM, the conditioned DDPM (Behrendt et al. 2025): the DDPM also sees the code of the slice from an
encoder pre-trained as a masked autoencoder (rule pretrain_cddpm) and fine-tuned with it.

The workflow's view of it (`patch2loc.methods`); its settings are the `cddpm:` config block.
"""
from patch2loc.methods.diffusion.variants import CDDPMConfig, bind

load, score, train_from_files = bind(CDDPMConfig)
__all__ = ["load", "score", "train_from_files"]
