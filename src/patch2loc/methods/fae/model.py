"""Meissen et al.'s structural feature autoencoder (FAE), 2022: the network, its loss and its map.

The reference is FeliMe/feature-autoencoder at 16ee46d (fae/models/feature_extractor.py,
fae/models/models.py, fae/utils/pytorch_ssim.py; defaults in fae/configs/base_config.py):
- extractor: torchvision's ResNet-18, frozen, its stem (conv1, bn1, relu, maxpool), layer1 and
  layer2 on the grey slice repeated to three channels and mapped from [0, 1] to [-1, 1] (no ImageNet
  mean and std); each stage's map resized (bilinear, corners aligned) to a quarter of the input side
  and the three concatenated: 64 + 64 + 128 = 256 channels, 32 x 32 for a 128-pixel slice;
- autoencoder on those features: per hidden width a 5x5 stride-2 convolution, batch norm,
  LeakyReLU (0.01) and channel dropout, then a 5x5 stride-1 convolution; the decoder mirrors it with
  6x6 stride-2 transposed convolutions back to 256 channels and ends with a 1x1 convolution; no biases;
- loss: the negative SSIM of reconstruction and features per channel (5x5 Gaussian window, sigma 1.5);
  anomaly map: that map averaged over the channels, upsampled to the slice (bilinear, corners aligned).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

FEATURE_CHANNELS = 64 + 64 + 128  # stem, layer1, layer2 of a ResNet-18
HIDDEN_DIMS = (100, 150, 200, 300)  # FeliMe/feature-autoencoder@16ee46d fae/configs/base_config.py l. 75-77
SLOPE = 0.01  # nn.LeakyReLU's default, as models.py l. 81 and 137 build it
WINDOW, SIGMA = 5, 1.5  # models.py l. 187; pytorch_ssim.py l. 16
C1, C2 = 0.01**2, 0.03**2  # pytorch_ssim.py l. 38-39 (a data range of 1 assumed, features unbounded)


class ResNetStages(nn.Module):
    """A ResNet-18's stem, layer1 and layer2 (the reference's layer0-2), frozen; forward -> the
    256-channel feature map on a grid of `size` // 4 (feature_extractor.py l. 37-40, 85-87, 102-118)."""

    def __init__(self, resnet: nn.Module, size: int):
        super().__init__()
        self.layer0 = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.layer1, self.layer2 = resnet.layer1, resnet.layer2
        self.grid = size // 4
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x) - 0.5) * 2  # [0, 1] -> [-1, 1], l. 104
        maps = []
        for stage in (self.layer0, self.layer1, self.layer2):
            x = stage(x)
            maps.append(F.interpolate(x, size=self.grid, mode="bilinear", align_corners=True))
        return torch.cat(maps, dim=1)


def resnet18(state: dict | None = None) -> nn.Module:
    """torchvision's ResNet-18, randomly initialised, then `state` loaded (strict) when given."""
    from torchvision.models import resnet18 as build

    net = build(weights=None)
    if state is not None:
        net.load_state_dict(state)
    return net


def _block(conv: nn.Module, channels: int, dropout: float) -> nn.Sequential:
    layers = [conv, nn.BatchNorm2d(channels), nn.LeakyReLU(SLOPE)]
    return nn.Sequential(*layers, nn.Dropout2d(dropout)) if dropout > 0 else nn.Sequential(*layers)


class FeatureAutoencoder(nn.Module):
    """models.py l. 44-172: encoder to a grid of side / 2^len(hidden_dims), decoder back."""

    def __init__(self, channels: int = FEATURE_CHANNELS, hidden_dims=HIDDEN_DIMS, dropout: float = 0.1):
        super().__init__()
        enc, c_in = [], channels
        for c in hidden_dims:
            enc.append(_block(nn.Conv2d(c_in, c, 5, stride=2, padding=2, bias=False), c, dropout))
            c_in = c
        enc.append(nn.Conv2d(c_in, c_in, 5, stride=1, padding=2, bias=False))
        dec = []
        for c in [*reversed(hidden_dims[:-1]), channels]:
            dec.append(_block(nn.ConvTranspose2d(c_in, c, 6, stride=2, padding=2, bias=False), c, dropout))
            c_in = c
        dec.append(nn.Conv2d(channels, channels, 1, bias=False))
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(features))


class FAE(nn.Module):
    """The frozen extractor and the feature autoencoder; forward(slices [B, 1, size, size]) ->
    (features, reconstruction), the features without gradients (models.py l. 193-196)."""

    def __init__(
        self,
        size: int = 128,
        hidden_dims=HIDDEN_DIMS,
        dropout: float = 0.1,
        backbone: dict | None = None,
        equalise: bool = False,
    ):
        super().__init__()
        self.equalise = equalise  # volumes histogram-equalised as in training (networks/inputs.py)
        self.extractor = ResNetStages(resnet18(backbone), size)
        self.autoencoder = FeatureAutoencoder(FEATURE_CHANNELS, tuple(hidden_dims), dropout)
        self.size = size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            features = self.extractor(x)
        return features, self.autoencoder(features)


def trainable_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def gaussian_window(channels: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """[channels, 1, 5, 5]: the normalised 1-D Gaussian's outer product (pytorch_ssim.py l. 9-19)."""
    x = torch.arange(WINDOW, dtype=torch.float64) - WINDOW // 2
    g = torch.exp(-(x**2) / (2 * SIGMA**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).to(device=device, dtype=dtype).expand(channels, 1, WINDOW, WINDOW)


def negative_ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """-SSIM(a, b) per channel and pixel, [B, C, H, W]: Gaussian-weighted means, variances and
    covariance (depthwise, zero padded by 2), C1 = 0.01^2, C2 = 0.03^2 (pytorch_ssim.py l. 22-44, 70-71)."""
    channels = a.shape[1]
    w = gaussian_window(channels, a.device, a.dtype)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, padding=WINDOW // 2, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + C1) * (2 * cov + C2)) / ((mu_a**2 + mu_b**2 + C1) * (var_a + var_b + C2))
    return -ssim


def fae_loss(features: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """The training loss: the negative SSIM map's mean over batch, channels and pixels (models.py l. 204-207)."""
    return negative_ssim(reconstruction.float(), features.float()).mean()


def anomaly_slices(model: FAE, x: torch.Tensor) -> torch.Tensor:
    """[B, 1, size, size]: 1 - SSIM averaged over the feature channels, upsampled to the slices'
    side (bilinear, corners aligned; models.py l. 209-217). The reference's map is -SSIM; 1 is added
    so that 0, the value outside the brain here, lies below every score (docs/fae.md)."""
    features, reconstruction = model(x)
    score = 1 + negative_ssim(reconstruction.float(), features.float()).mean(1, keepdim=True)
    return F.interpolate(score, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=True)
