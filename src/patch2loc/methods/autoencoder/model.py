"""Baur et al.'s dense autoencoder (AE) and variational autoencoder (VAE), MedIA 2021.

The reference is the TensorFlow code of StefanDenn3r/Unsupervised_Anomaly_Detection_Brain_MRI
(models/customlayers.py:16-38, models/autoencoder.py:9-40, models/variational_autoencoder.py:9-47):
- encoder: log2(size / bottleneck) convolutions, 5x5, stride 2, TensorFlow's 'same' padding, with
  min(4w, w 2^i) filters (w = 32: 32, 64, 128, 128 for a 128-pixel slice to an 8 x 8 grid), each
  followed by batch normalisation and LeakyReLU (Keras' slope 0.3);
- bottleneck: a 1x1 convolution to 1/8 of the channels, flattened, a dense layer to the latent
  code (128 values; the VAE: two, its mean and log standard deviation, and a sample of them),
  dropout on the code while training, a dense layer back, a 1x1 convolution to the channels;
- decoder: batch normalisation and ReLU, then as many 5x5 stride-2 transposed convolutions with
  max(w, 4w / 2^i) filters (128, 64, 32, 32), each with batch normalisation and LeakyReLU, and a 1x1
  convolution to one channel without activation: the reconstruction.
Batch normalisation is PyTorch's (see `batch_norm`).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

SLOPE = 0.3  # tf.keras LeakyReLU's default alpha


def layer_count(size: int, bottleneck: int) -> int:
    """Stride-2 layers from a `size` slice to a `bottleneck` grid (the reference's num_pooling,
    log2(size) - log2(bottleneck), in whole numbers: 192 and 12 give 4, not 3.999...)."""
    return max(size // bottleneck, 1).bit_length() - 1


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """PyTorch's batch normalisation: batch statistics while training, running ones when scoring.
    (The reference calls tf.layers' BatchNormalization without `training=True`, which, as we read
    TensorFlow 1.15, makes it normalise with its initial moving statistics throughout: docs/ae-vae.md.)"""
    return nn.BatchNorm2d(channels)


class SameConv(nn.Conv2d):
    """5x5 stride-2 convolution padded as TensorFlow's 'same': 1 pixel before, 2 after (even sides)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (1, 2, 1, 2)))


class SameConvTranspose(nn.ConvTranspose2d):
    """5x5 stride-2 transposed convolution cropped as TensorFlow's 'same': the side doubles, the
    first output row and column and the last two are dropped (the transpose of SameConv)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        return super().forward(x)[..., 1 : 1 + 2 * height, 1 : 1 + 2 * width]


class DenseAutoencoder(nn.Module):
    """The AE (`variational=False`) or the VAE on `size` x `size` slices; forward -> (x_hat, mu, log_sigma)
    (mu and log_sigma None for the AE)."""

    def __init__(
        self,
        size: int = 128,
        width: int = 32,
        bottleneck: int = 8,
        latent: int = 128,
        dropout: float = 0.1,
        variational: bool = False,
    ):
        super().__init__()
        n = layer_count(size, bottleneck)
        enc = [min(4 * width, width * 2**i) for i in range(n)]
        dec = [max(width, 4 * width // 2**i) for i in range(n)]
        layers, c_in = [], 1
        for c in enc:
            layers += [SameConv(c_in, c, 5, stride=2), batch_norm(c), nn.LeakyReLU(SLOPE)]
            c_in = c
        self.encoder = nn.Sequential(*layers)
        self.reduce = nn.Conv2d(c_in, c_in // 8, 1)
        self.grid = (c_in // 8, bottleneck, bottleneck)
        flat = math.prod(self.grid)
        self.mu = nn.Linear(flat, latent)
        self.log_sigma = nn.Linear(flat, latent) if variational else None
        self.expand = nn.Linear(latent, flat)
        self.restore = nn.Conv2d(c_in // 8, c_in, 1)
        self.dropout = nn.Dropout(dropout)
        layers = [batch_norm(c_in), nn.ReLU()]
        for c in dec:
            layers += [SameConvTranspose(c_in, c, 5, stride=2), batch_norm(c), nn.LeakyReLU(SLOPE)]
            c_in = c
        layers.append(nn.Conv2d(c_in, 1, 1))
        self.decoder = nn.Sequential(*layers)
        self.size, self.variational = size, variational

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        flat = self.reduce(self.encoder(x)).flatten(1)
        mu = self.dropout(self.mu(flat))
        log_sigma = None
        if self.variational:  # z = mu + eps sigma; dropout on both and on the decoder's dense output
            log_sigma = self.dropout(self.log_sigma(flat))
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            hidden = self.dropout(self.expand(mu + eps * log_sigma.exp()))
        else:  # the AE's reference calls its dropout layer on the dense output without training=...: none there
            hidden = self.expand(mu)
        x_hat = self.decoder(self.restore(hidden.view(-1, *self.grid)))
        return x_hat, mu, log_sigma
