"""PHANES' networks as one module (Bercea et al., MICCAI 2023; docs/phanes.md): RA's Soft-IntroVAE
for the coarse pseudo-healthy reconstruction, the AOT-GAN inpainter and its discriminator, and, for
the paper's method, the frozen LPIPS network its masks and map are weighted with.

The reference's class `Phanes` (ci-ber/PHANES@c8995ed model_zoo/phanes.py l. 219-249) holds the same
encoder and decoder as RA (its own copy of RA's code, the same YAML channels: 29,955,073 weights),
`netG` and `netD` (model_zoo/aotgan/aotgan.py): 15,193,409 and 2,761,729, 47,910,211 trainable in
all. The discriminator is part of the saved model, so a resumed run goes on with it; scoring does not
use it. The VGG-19 of the inpainter's style and perceptual losses is a training-only network and is
never part of the model (train.py keeps it beside it).
"""

from __future__ import annotations

from torch import nn

from patch2loc.methods.phanes.aotgan import Discriminator, InpaintGenerator
from patch2loc.methods.ra.model import SoftIntroVAE


class PHANESModel(nn.Module):
    """What a PHANES checkpoint holds: `vae` (RA's Soft-IntroVAE), `generator` (the inpainter),
    `discriminator`, and `perceptual` (the frozen LPIPS network; None for the offline variant)."""

    def __init__(self, vae: SoftIntroVAE, perceptual: nn.Module | None, intensity: str = "clip"):
        super().__init__()
        self.intensity = intensity  # how the volumes were read in training (networks/inputs.py)
        self.vae = vae
        self.generator = InpaintGenerator()
        self.discriminator = Discriminator()
        self.perceptual = perceptual

    @property
    def size(self) -> int:
        return self.vae.size


def trainable_count(module: nn.Module) -> int:
    """The weights an optimiser updates (the LPIPS network is frozen; spectral norm's u, v are buffers)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
