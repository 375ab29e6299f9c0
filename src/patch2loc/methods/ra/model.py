"""RA's network: a Soft-IntroVAE (Daniel and Tamar 2021) on one-channel slices, as Bercea et al. build it
(ci-ber/RA@9b7a255 model_zoo/ra.py; the paper's setting in projects/23_ra_midl/configs/fast_mri/ra.yaml
l. 21-34: cdim 1, zdim 128, channels 64, 128, 256, 512, 512, image_size 128).

- residual block (ra.py l. 26-62): 3x3 conv (no bias), BN, LeakyReLU 0.2, 3x3 conv (no bias), BN,
  plus the identity (through a 1x1 conv without bias where the block has one), LeakyReLU 0.2;
- encoder (l. 65-115): 5x5 conv 1 -> 64 (no bias), BN, LeakyReLU 0.2, 2x2 average pool; per further
  channel count a residual block and a 2x2 average pool; a residual block at the last width; a dense
  layer to 2 x zdim (mu, logvar). The five average pools' outputs are its `embeddings`;
- decoder (l. 118-163): dense zdim -> the encoder's last grid + ReLU; per channel count, from the
  last, a residual block and a nearest x2 upsampling; a residual block; 5x5 conv to one channel
  (with bias); sigmoid.

The block builds its 1x1 conv with `inc is not outc` (l. 37), an identity test on ints: with the
channels read from the YAML file every list entry is its own int object, so the transitions between
entries (512 -> 512 included) have the conv, and only the blocks that reuse one entry
(RB(cc, cc), the decoder's first block) do not. `expand_transitions=True` keeps that (the paper's
29,955,073 weights); False builds the conv only where the counts differ (29,430,785).
"""

from __future__ import annotations

import torch
from torch import nn

SLOPE = 0.2
LEVELS = 5  # average pools in the encoder, upsamplings in the decoder


def channels_of(width: int) -> tuple[int, ...]:
    """The reference's (64, 128, 256, 512, 512) for width 64: width x (1, 2, 4, 8, 8)."""
    return tuple(width * m for m in (1, 2, 4, 8, 8))


class ResidualBlock(nn.Module):
    def __init__(self, inc: int, outc: int, expand: bool):
        super().__init__()
        self.conv_expand = nn.Conv2d(inc, outc, 1, bias=False) if expand else None
        self.conv1 = nn.Conv2d(inc, outc, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(outc)
        self.conv2 = nn.Conv2d(outc, outc, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(outc)
        self.act = nn.LeakyReLU(SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.conv_expand is None else self.conv_expand(x)
        return self.act(self.bn2(self.conv2(self.act(self.bn1(self.conv1(x))))) + identity)


def _block(inc: int, outc: int, transition: bool, expand_transitions: bool) -> ResidualBlock:
    return ResidualBlock(inc, outc, expand=inc != outc or (transition and expand_transitions))


class Encoder(nn.Module):
    """x [B, cdim, S, S] -> (mu, logvar [B, zdim], embeddings: the 5 average pools' outputs)."""

    def __init__(self, cdim: int, zdim: int, channels: tuple[int, ...], image_size: int, expand_transitions: bool):
        super().__init__()
        layers = [nn.Conv2d(cdim, channels[0], 5, padding=2, bias=False), nn.BatchNorm2d(channels[0])]
        layers += [nn.LeakyReLU(SLOPE), nn.AvgPool2d(2)]
        for inc, outc in zip(channels, channels[1:]):
            layers += [_block(inc, outc, True, expand_transitions), nn.AvgPool2d(2)]
        layers.append(_block(channels[-1], channels[-1], False, expand_transitions))
        self.main = nn.Sequential(*layers)
        self.grid = (channels[-1], image_size // 2 ** len(channels), image_size // 2 ** len(channels))
        self.fc = nn.Linear(channels[-1] * self.grid[1] * self.grid[2], 2 * zdim)

    def forward(self, x: torch.Tensor):
        embeddings, y = [], x
        for layer in self.main:
            y = layer(y)
            if isinstance(layer, nn.AvgPool2d):
                embeddings.append(y)
        mu, logvar = self.fc(y.flatten(1)).chunk(2, dim=1)
        return mu, logvar, embeddings


class Decoder(nn.Module):
    """z [B, zdim] -> [B, cdim, S, S] in (0, 1)."""

    def __init__(
        self, cdim: int, zdim: int, channels: tuple[int, ...], grid: tuple[int, int, int], expand_transitions: bool
    ):
        super().__init__()
        self.grid = grid
        self.fc = nn.Sequential(nn.Linear(zdim, grid[0] * grid[1] * grid[2]), nn.ReLU())
        reverse = channels[::-1]
        layers, inc = [], channels[-1]
        for i, outc in enumerate(reverse):  # the first block reuses the last entry: no transition
            layers += [_block(inc, outc, i > 0, expand_transitions), nn.Upsample(scale_factor=2, mode="nearest")]
            inc = outc
        layers += [_block(inc, inc, False, expand_transitions), nn.Conv2d(inc, cdim, 5, padding=2), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(self.fc(z.flatten(1)).view(len(z), *self.grid))


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """z = mu + eps exp(logvar / 2), eps ~ N(0, I) drawn from `generator` (ra.py l. 248-259)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + eps * torch.exp(0.5 * logvar)


class SoftIntroVAE(nn.Module):
    """RA's network (the reference's class RA, unconditional)."""

    def __init__(
        self,
        cdim: int = 1,
        zdim: int = 128,
        channels: tuple[int, ...] = channels_of(64),
        image_size: int = 128,
        expand_transitions: bool = True,
    ):
        super().__init__()
        channels = tuple(channels)
        if len(channels) != LEVELS or image_size % 2**LEVELS:
            raise ValueError(f"{LEVELS} channel counts and an image size divisible by {2**LEVELS}")
        self.zdim, self.size = zdim, image_size
        self.encoder = Encoder(cdim, zdim, channels, image_size, expand_transitions)
        self.decoder = Decoder(cdim, zdim, channels, self.encoder.grid, expand_transitions)

    def encode(self, x: torch.Tensor):
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, deterministic: bool = False):
        """(reconstruction, mu, logvar, z, embeddings); z is sampled unless `deterministic` (the
        reference's default, ra.py l. 180-195, samples, at test time too)."""
        mu, logvar, embeddings = self.encoder(x)
        z = mu if deterministic else reparameterize(mu, logvar, generator)
        return self.decoder(z), mu, logvar, z, embeddings


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class RAModel(nn.Module):
    """What an RA checkpoint holds: the Soft-IntroVAE and, with `weights: imagenet`, the frozen LPIPS
    network its anomaly map is weighted with (None for the offline variant, which needs none)."""

    def __init__(self, vae: SoftIntroVAE, perceptual: nn.Module | None, intensity: str = "clip"):
        super().__init__()
        self.intensity = intensity  # how the volumes were read in training (networks/inputs.py)
        self.vae, self.perceptual = vae, perceptual

    @property
    def size(self) -> int:
        return self.vae.size
