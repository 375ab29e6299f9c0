"""The Patch2Loc network (paper section 2.4).

A ResNet-18 encodes a small patch of an axial slice into a 512-d feature; a 512-d sinusoidal
encoding of the slice's axial position is added to it; two heads of identical shape (no weight
sharing) predict the mean and the log-variance of the patch centre's 2D position, in percent.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.models import resnet18

FEATURE_DIM = 512
HEAD_WIDTHS = (512, 512, 128, 64, 32)  # input width, then the four hidden Linear+BN+ReLU outputs
PATCH_FRACTION = 0.125  # patch side as a fraction of the slice side (24 of 192)
# Output-bias initialisation (the paper leaves initialisation to PyTorch's defaults): the mean
# head starts at the centre of the 0-100 % range and the log-variance head at the log-variance
# of a uniform position on it (100^2 / 12). The architecture and the loss are unchanged; training
# no longer spends its first hundreds of steps moving the outputs from 0 to the target range.
INITIAL_MEAN = 50.0
INITIAL_LOGVAR = math.log(100.0**2 / 12.0)


def patch_size_for(slice_size: int, fraction: float = PATCH_FRACTION) -> int:
    """Patch side in pixels for an axial slice of side `slice_size` (192 -> 24)."""
    return max(1, int(round(fraction * slice_size)))


def sinusoidal_encoding(position: torch.Tensor, dim: int = FEATURE_DIM) -> torch.Tensor:
    """Vaswani et al.'s encoding of scalar positions: [N] -> [N, dim].

    Even channels are sin(p / 10000^(2i/dim)), odd channels cos of the same argument.
    """
    position = position.float().reshape(-1, 1)
    i = torch.arange(0, dim, 2, device=position.device, dtype=torch.float32)
    freq = torch.exp(-math.log(10000.0) * i / dim)
    enc = torch.zeros(position.shape[0], dim, device=position.device, dtype=torch.float32)
    enc[:, 0::2] = torch.sin(position * freq)
    enc[:, 1::2] = torch.cos(position * freq)
    return enc


def _head() -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(HEAD_WIDTHS[:-1], HEAD_WIDTHS[1:]):
        layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU(inplace=True)]
    layers.append(nn.Linear(HEAD_WIDTHS[-1], 2))
    return nn.Sequential(*layers)


def resnet18_encoder() -> nn.Module:
    """torchvision ResNet-18 with 1 input channel, a 3x3 stride-2 first conv, and no fc.

    Padding 3 on the first conv follows the authors' code (the paper only says kernel 3).
    """
    net = resnet18(weights=None)
    net.conv1 = nn.Conv2d(1, 64, kernel_size=3, stride=2, padding=3, bias=False)
    net.fc = nn.Identity()
    return net


class Patch2LocNet(nn.Module):
    """model(patches [N,1,P,P], slice_pos [N] in percent) -> (mean [N,2], logvar [N,2])."""

    def __init__(self, patch_size: int = 24):
        super().__init__()
        self.patch_size = int(patch_size)
        self.encoder = resnet18_encoder()
        self.mean_head = _head()
        self.logvar_head = _head()
        nn.init.constant_(self.mean_head[-1].bias, INITIAL_MEAN)
        nn.init.constant_(self.logvar_head[-1].bias, INITIAL_LOGVAR)

    def forward(self, patches: torch.Tensor, slice_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.encoder(patches)
        feature = feature + sinusoidal_encoding(slice_pos, feature.shape[1]).to(feature.dtype)
        return self.mean_head(feature), self.logvar_head(feature)


def load_model(checkpoint: str, device: str | torch.device = "cpu") -> tuple[Patch2LocNet, dict]:
    """Rebuild the network from a training checkpoint; returns (model in eval mode, checkpoint dict).

    The file is read with `checkpoint.read_checkpoint` (no code from it runs) on the CPU, then moved
    to `device`, so a device problem is never reported as a bad checkpoint."""
    from .checkpoint import read_checkpoint
    from .io import InputError

    ckpt = read_checkpoint(checkpoint)
    try:
        model = Patch2LocNet(patch_size=int(ckpt["patch_size"]))
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise InputError(f"{checkpoint}: not a usable Patch2Loc checkpoint (weights do not fit the network: "
                         f"{first}). Pass a best.pt or last.pt written by patch2loc train.") from None
    return model.to(device).eval(), ckpt
