"""The forward diffusion of the three diffusion models: a cosine schedule over 1,000 steps.

Betas from the cosine schedule of Nichol & Dhariwal (2021) with offset s = 0.008, clipped at 0.999
(the reference's default: its configs name no other schedule). A clean slice x0 (intensities mapped
from [0, 1] to [-1, 1], as the reference does) is noised to step t as
    x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise,
with simplex noise in place of Gaussian noise. The models predict x0 directly (objective pred_x0),
so a reconstruction is one network evaluation at the test step, no sampling chain.
"""

from __future__ import annotations

import math

import torch


def cosine_alpha_bar(steps: int = 1000, s: float = 0.008) -> torch.Tensor:
    """abar_t for t = 0..steps-1 (float32), from betas clipped at 0.999 as the reference does."""
    t = torch.linspace(0, steps, steps + 1, dtype=torch.float64)
    f = torch.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(0, 0.999)
    return torch.cumprod(1 - betas, dim=0).float()


def to_model_range(x: torch.Tensor) -> torch.Tensor:
    """Normalised intensities (about [0, 1]) to the diffusion's [-1, 1]."""
    return x * 2 - 1


def from_model_range(x: torch.Tensor) -> torch.Tensor:
    return (x + 1) / 2


def noised(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x_t of x0 [B, C, H, W] (model range) at steps t [B] with the given noise."""
    a = alpha_bar.to(x0.device)[t].view(-1, 1, 1, 1)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
