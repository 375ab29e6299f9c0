"""LPIPS v0.1 on SqueezeNet 1.1, as a spatial map: the perceptual distance RA and PHANES weight their
residuals with (Zhang et al. 2018; the `lpips` package 0.1.4, richzhang/PerceptualSimilarity@3767a70).

The reference calls `lpips.LPIPS(net='squeeze', spatial=True)` with `normalize=True` on [0, 1]
slices (ci-ber/RA@9b7a255 projects/23_ra_midl/DownstreamEvaluator.py l. 42, 80). Built here without
the package, from torchvision's SqueezeNet 1.1 and the published weights (networks/pretrained.py):
- inputs in [-1, 1] (`normalize=True`: x -> 2x - 1) are shifted and scaled per colour channel
  (lpips/lpips.py l. 147-154); a one-channel slice broadcasts to the three channels there;
- the trunk is torchvision's `squeezenet1_1().features`, cut into 7 slices after modules 1, 4, 7,
  9, 10, 11, 12 (lpips/pretrained_networks.py l. 5-30): 64, 128, 256, 384, 384, 512, 512 channels;
- each slice's output is divided by its norm over the channels (+1e-10, lpips/__init__.py l. 13-15),
  the two inputs' squared difference goes through a 1x1 convolution to one channel without bias
  (the published heads, lpips/lpips.py l. 157-167; dropout is off in eval mode), is upsampled
  bilinearly (align_corners=False) to the input's size (l. 17-19, 127-128) and summed (l. 137-139).
`saliency` is that map smoothed by a Gaussian of sigma 2 (scipy, per 2-D slice), as RA's
`get_saliency` does (DownstreamEvaluator.py l. 90-93). The network is frozen.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from torch import nn
from torch.nn import functional as F

from patch2loc.networks import pretrained

SHIFT = (-0.030, -0.088, -0.188)  # lpips/lpips.py l. 150
SCALE = (0.458, 0.448, 0.450)  # l. 151
SLICE_ENDS = (2, 5, 8, 10, 11, 12, 13)  # features[0:2], [2:5], [5:8], [8:10], [10], [11], [12]
CHANNELS = (64, 128, 256, 384, 384, 512, 512)
EPS = 1e-10
SALIENCY_SIGMA = 2.0
TRUNK_KEY, HEADS_KEY = "squeezenet1_1", "lpips_squeeze"  # networks.pretrained.FILES


class SqueezeLPIPS(nn.Module):
    """LPIPS v0.1 (SqueezeNet 1.1) spatial map; `forward(x0, x1)` -> [B, 1, H, W]."""

    def __init__(self):
        super().__init__()
        from torchvision.models import squeezenet1_1

        self.features = squeezenet1_1(weights=None).features
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def load_published(self, home: str, block: str) -> None:
        """The published trunk and heads from the cache `home` (checked; one line when missing)."""
        self.load_trunk(pretrained.state_dict(TRUNK_KEY, home, block))
        self.load_heads(pretrained.state_dict(HEADS_KEY, home, block))

    def load_trunk(self, state: dict) -> None:
        """torchvision's SqueezeNet 1.1 state dict (`features.*`; the classifier is not used)."""
        self.features.load_state_dict(
            {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        )

    def load_heads(self, state: dict) -> None:
        """The lpips package's heads file (keys `lin{k}.model.1.weight`, k = 0..6)."""
        self.heads.load_state_dict({f"{k}.weight": state[f"lin{k}.model.1.weight"] for k in range(len(CHANNELS))})

    def forward(self, x0: torch.Tensor, x1: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        if normalize:  # [0, 1] -> [-1, 1], as the package's normalize=True
            x0, x1 = 2 * x0 - 1, 2 * x1 - 1
        h0, h1 = (x0 - self.shift) / self.scale, (x1 - self.shift) / self.scale
        size, start, total = tuple(x0.shape[-2:]), 0, 0
        for end, head in zip(SLICE_ENDS, self.heads):
            h0, h1 = self.features[start:end](h0), self.features[start:end](h1)
            diff = (unit(h0) - unit(h1)) ** 2
            total = total + F.interpolate(head(diff), size=size, mode="bilinear", align_corners=False)
            start = end
        return total


def unit(features: torch.Tensor) -> torch.Tensor:
    """Each position's feature vector divided by its norm over the channels (+EPS)."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + EPS)


def published_lpips(home: str, block: str) -> SqueezeLPIPS:
    net = SqueezeLPIPS()
    net.load_published(home, block)
    return net.eval()


def smooth(maps: np.ndarray, sigma: float = SALIENCY_SIGMA) -> np.ndarray:
    """scipy's Gaussian filter (its defaults: reflect, truncate 4) on each 2-D slice of [B, H, W]."""
    return np.stack([gaussian_filter(m, sigma=sigma) for m in maps]) if len(maps) else maps


@torch.no_grad()
def saliency(net: SqueezeLPIPS, x0: torch.Tensor, x1: torch.Tensor) -> np.ndarray:
    """float32 [B, H, W]: the LPIPS map of two [B, 1, H, W] batches in [0, 1], Gaussian-smoothed."""
    return smooth(net(x0.float(), x1.float(), normalize=True)[:, 0].cpu().numpy().astype(np.float32))
