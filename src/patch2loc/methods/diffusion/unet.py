"""The diffusion models' network: the "OpenAI" UNet (Dhariwal & Nichol 2021) as the reference
configures it, 2D, one input and one output channel.

`width` channels at the top (128 in the reference), `mults` per level ([1, 2, 2]: 128, 256, 256),
`blocks` residual blocks per level (3). A residual block: GroupNorm, SiLU, 3x3 conv; the step
embedding gives a scale and a shift applied after the second GroupNorm (scale-shift norm); SiLU,
dropout, a zero-initialised 3x3 conv; a 1x1 conv on the skip path when the width changes. Levels are
joined by residual blocks that resample inside them (average pooling down, nearest-neighbour up).
Self-attention (heads of 64 channels) sits in the middle block only: the reference asks for it at
downsampling factors 3, 6 and 12 (pDDPM: 6, 12, 24), which a 3-level UNet (factors 1, 2, 4) never
reaches. The step t enters through a sinusoidal embedding of `width` channels and a 2-layer MLP to
4 x width; a condition vector (cDDPM's encoder output) gets a 2-layer MLP of its own to 4 x width
and is concatenated, so the blocks then see 8 x width channels.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups (the reference), fewer for narrow demo widths (a divisor of channels)."""
    groups = max(g for g in range(1, 33) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


def zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def step_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding [B, dim] of the steps t [B]: cosines, then sines, of geometric frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, dim % 2))


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb: int, dropout: float = 0.0, resample: str | None = None):
        super().__init__()
        self.norm_in, self.conv_in = norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.resample = resample  # None, "down" or "up": applied to both paths between norm and conv
        self.emb = nn.Linear(emb, 2 * c_out)
        self.norm_out = norm(c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv_out = zero(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def _resample(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "down":
            return F.avg_pool2d(x, 2)
        if self.resample == "up":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        return x

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(self._resample(F.silu(self.norm_in(x))))
        x = self._resample(x)
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm_out(h) * (1 + scale) + shift
        return self.skip(x) + self.conv_out(self.dropout(F.silu(h)))


class Attention(nn.Module):
    """Self-attention over the pixels, heads of `head_channels` (q, k, v split before the heads)."""

    def __init__(self, channels: int, head_channels: int = 64):
        super().__init__()
        self.heads = max(1, channels // head_channels)
        self.norm = norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = zero(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x).reshape(b, c, h * w)).chunk(3, dim=1)
        split = lambda a: a.reshape(b, self.heads, c // self.heads, h * w).transpose(-1, -2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(q), split(k), split(v))  # [b, heads, hw, c/heads]
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h * w)).reshape(b, c, h, w)


class DiffusionUNet(nn.Module):
    def __init__(
        self,
        width: int = 128,
        mults: tuple[int, ...] = (1, 2, 2),
        blocks: int = 3,
        cond_dim: int | None = None,
        dropout: float = 0.0,
        head_channels: int = 64,
        channels: int = 1,
    ):
        super().__init__()
        self.width, self.levels = width, len(mults)
        emb = 4 * width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.cond_mlp = None
        if cond_dim:  # cDDPM: the condition's embedding is concatenated to the step's
            self.cond_mlp = nn.Sequential(nn.Linear(cond_dim, emb), nn.SiLU(), nn.Linear(emb, emb))
            emb *= 2
        self.stem = nn.Conv2d(channels, width, 3, padding=1)
        self.down = nn.ModuleList()
        skips, ch = [width], width
        for level, mult in enumerate(mults):
            for _ in range(blocks):
                self.down.append(ResBlock(ch, width * mult, emb, dropout))
                ch = width * mult
                skips.append(ch)
            if level < len(mults) - 1:
                self.down.append(ResBlock(ch, ch, emb, dropout, resample="down"))
                skips.append(ch)
        self.middle = nn.ModuleList(
            [ResBlock(ch, ch, emb, dropout), Attention(ch, head_channels), ResBlock(ch, ch, emb, dropout)]
        )
        self.up = nn.ModuleList()  # (block taking a skip, optional upsampling block)
        for level, mult in reversed(list(enumerate(mults))):
            for i in range(blocks + 1):
                block = ResBlock(ch + skips.pop(), width * mult, emb, dropout)
                ch = width * mult
                upsample = ResBlock(ch, ch, emb, dropout, resample="up") if level and i == blocks else None
                self.up.append(nn.ModuleList([block] + ([upsample] if upsample else [])))
        self.head = nn.Sequential(norm(ch), nn.SiLU(), zero(nn.Conv2d(ch, channels, 3, padding=1)))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        height, width = x.shape[-2:]
        multiple = 2 ** (self.levels - 1)  # a side that is not a multiple is padded, then cropped back
        x = F.pad(x, (0, -width % multiple, 0, -height % multiple))
        emb = self.time_mlp(step_embedding(t, self.width))
        if self.cond_mlp is not None:
            emb = torch.cat([emb, self.cond_mlp(cond)], dim=1)
        h = self.stem(x)
        hs = [h]
        for block in self.down:
            h = block(h, emb)
            hs.append(h)
        for block in self.middle:
            h = block(h, emb)
        for stage in self.up:
            for i, block in enumerate(stage):
                h = block(torch.cat([h, hs.pop()], dim=1) if i == 0 else h, emb)
        return self.head(h)[..., :height, :width]
