"""PHANES' inpainter: the AOT-GAN generator and its spectral-norm discriminator (docs/phanes.md).

The reference is ci-ber/PHANES@c8995ed model_zoo/aotgan/aotgan.py (itself AOT-GAN's code, Zeng et al.
2022, for one grey channel):
- generator: the image and its mask (2 channels) -> reflection pad 3 + 7x7 conv to 64, then two 4x4
  stride-2 convs to 128 and 256 (ReLU after each; 128 px -> 32 x 32); 8 AOT blocks of 256 channels with
  dilation rates 1, 2, 4, 8; decoder: twice (bilinear x2, align_corners=True, + 3x3 conv) to 128 and 64
  with ReLU, a 3x3 conv to 1 channel, tanh (l. 13-61). Every conv has a bias;
- AOT block (l. 64-99): four branches (reflection pad r + 3x3 conv 256 -> 64, dilation r, ReLU),
  concatenated and fused by a 3x3 conv (reflection pad 1); a gate, a 3x3 conv (reflection pad 1) of the
  block's input normalised per channel over space (`gate_norm`) through a sigmoid; out = x (1 - g) + fused g;
- discriminator (l. 105-125): 4x4 convs without bias under spectral normalisation, 1 -> 64 -> 128 -> 256
  (stride 2) -> 512 (stride 1), LeakyReLU(0.2) after each, then a plain 4x4 conv to 1 (128 px -> 14 x 14);
- initialisation: conv weights normal(0, 0.02), biases 0 (model_zoo/aotgan/common.py l. 21-53).
Spectral normalisation is torch's parametrisation (the reference uses the older hook,
torch.nn.utils.spectral_norm): the same normalised weight and one power iteration per training forward;
the parametrisation starts its u, v from 15 iterations on the initial weight, the hook from random vectors.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from patch2loc.errors import InputError

DIM = 256  # channels of the AOT blocks (aotgan.py l. 25, 29)
BLOCKS = 8  # block_num (aotgan.py l. 14)
RATES = (1, 2, 4, 8)  # the `rates` argument is overwritten with these (aotgan.py l. 16)
INIT_STD = 0.02  # normal init's gain (common.py l. 21, 36)
GATE_EPS = 1e-9  # added to the gate's std (aotgan.py l. 96)


def check_size(size: int) -> int:
    """The generator's slice side: a multiple of 4 (two stride-2 convs and two x2 upsamplings) whose
    quarter exceeds the largest dilation (reflection padding of 8 needs a side of at least 9)."""
    if size % 4 or size // 4 <= max(RATES):
        raise InputError(f"phanes size {size}: the inpainter needs a multiple of 4 of at least {4 * (max(RATES) + 1)}.")
    return size


def init_normal(module: nn.Module) -> None:
    """Conv and linear weights ~ normal(0, 0.02), biases 0 (common.py l. 34-51)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def gate_norm(g: torch.Tensor) -> torch.Tensor:
    """5 (2 (g - mean) / (std + 1e-9) - 1), mean and (unbiased) std per image and channel over space
    (aotgan.py l. 94-99, `my_layer_norm`)."""
    mean = g.mean((2, 3), keepdim=True)
    std = g.std((2, 3), keepdim=True) + GATE_EPS
    return 5 * (2 * (g - mean) / std - 1)


def padded_conv(c_in: int, c_out: int, pad: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(pad), nn.Conv2d(c_in, c_out, 3, dilation=dilation))


class AOTBlock(nn.Module):
    def __init__(self, dim: int = DIM, rates: tuple[int, ...] = RATES):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(padded_conv(dim, dim // 4, r, dilation=r), nn.ReLU()) for r in rates
        )
        self.fuse = padded_conv(dim, dim, 1)
        self.gate = padded_conv(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused = self.fuse(torch.cat([b(x) for b in self.branches], 1))
        g = torch.sigmoid(gate_norm(self.gate(x)))
        return x * (1 - g) + fused * g


class UpConv(nn.Module):
    """Bilinear x2 (align_corners=True) then a 3x3 conv (aotgan.py l. 54-61)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))


class InpaintGenerator(nn.Module):
    """forward(image [B,1,H,W], mask [B,1,H,W]) -> tanh output [B,1,H,W] (H, W: see `check_size`)."""

    def __init__(self, blocks: int = BLOCKS):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(2, 64, 7),
            nn.ReLU(),
            nn.Conv2d(64, 128, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(128, DIM, 4, stride=2, padding=1),
            nn.ReLU(),
        )
        self.middle = nn.Sequential(*[AOTBlock() for _ in range(blocks)])
        self.decoder = nn.Sequential(
            UpConv(DIM, 128), nn.ReLU(), UpConv(128, 64), nn.ReLU(), nn.Conv2d(64, 1, 3, padding=1)
        )
        init_normal(self)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.encoder(torch.cat([image, mask], 1))
        return torch.tanh(self.decoder(self.middle(x)))


class Discriminator(nn.Module):
    """forward(image [B,1,H,W]) -> logits [B,1,H/8-2,W/8-2] (14 x 14 for 128 px)."""

    def __init__(self):
        super().__init__()
        convs = [
            nn.Conv2d(1, 64, 4, stride=2, padding=1, bias=False),
            nn.Conv2d(64, 128, 4, stride=2, padding=1, bias=False),
            nn.Conv2d(128, 256, 4, stride=2, padding=1, bias=False),
            nn.Conv2d(256, 512, 4, stride=1, padding=1, bias=False),
        ]
        last = nn.Conv2d(512, 1, 4, stride=1, padding=1)
        for m in (*convs, last):  # initialised before the normalisation wraps the weights
            init_normal(m)
        layers: list[nn.Module] = []
        for conv in convs:
            layers += [spectral_norm(conv), nn.LeakyReLU(0.2)]
        self.conv = nn.Sequential(*layers, last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
