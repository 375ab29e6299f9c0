"""The denoising autoencoder's network (Kascenas et al., MIDL 2022): a 2D UNet.

Depth 4 (three average-pool downsamplings, three transposed-convolution upsamplings), `width`
channels at the top level doubling at each level below (64, 128, 256, 512 in the reference).
`channels` co-registered contrasts in and out (the reference trains on the 4 BraTS contrasts at
once: AntanasKascenas/DenoisingAE src/denoising.py l. 72, UNet(in_channels=n_input,
n_classes=n_input), n_input=4 l. 20); 1 is one contrast, built exactly as before.
Each level is two 3x3 convolutions with weight standardisation, each followed by Swish (SiLU) and
GroupNorm, in that order as in the reference; convolutions pad by reflection so a slice keeps its
size. A 1x1 convolution maps the top level back to `channels` channels: the reconstruction.
A slice whose side is not a multiple of 2^(depth-1) is zero padded for the network and cropped back.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def group_count(channels: int) -> int:
    """GroupNorm groups: the middle divisor of the channel count (the reference's rule): 8 groups
    for 64 channels, 16 for 128 and 256, 32 for 512."""
    divisors = sorted(d for d in range(1, channels + 1) if channels % d == 0)
    return divisors[len(divisors) // 2]


class WSConv2d(nn.Conv2d):
    """Convolution with weight standardisation (Qiao et al. 2019): each filter is centred and
    divided by its standard deviation (+1e-5) before it is applied; the stored weights are free."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        w = w - w.mean(dim=(1, 2, 3), keepdim=True)
        w = w / (w.flatten(1).std(dim=1).view(-1, 1, 1, 1) + 1e-5)
        return self._conv_forward(x, w, self.bias)


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    layers = []
    for a, b in ((c_in, c_out), (c_out, c_out)):
        layers += [
            WSConv2d(a, b, kernel_size=3, padding=1, padding_mode="reflect"),
            nn.SiLU(),
            nn.GroupNorm(group_count(b), b),
        ]
    return nn.Sequential(*layers)


class DenoisingUNet(nn.Module):
    def __init__(self, width: int = 64, depth: int = 4, channels: int = 1):
        super().__init__()
        widths = [width * 2**i for i in range(depth)]
        self.depth, self.channels = depth, channels
        self.down = nn.ModuleList(conv_block(a, b) for a, b in zip([channels, *widths[:-1]], widths))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], kernel_size=2, stride=2) for i in reversed(range(depth - 1))
        )
        self.up_blocks = nn.ModuleList(conv_block(2 * widths[i], widths[i]) for i in reversed(range(depth - 1)))
        self.last = nn.Conv2d(widths[0], channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        multiple = 2 ** (self.depth - 1)
        x = F.pad(x, (0, -width % multiple, 0, -height % multiple))
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < self.depth - 1:
                skips.append(x)
                x = F.avg_pool2d(x, 2)
        for up, block, skip in zip(self.up, self.up_blocks, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.last(x)[..., :height, :width]
