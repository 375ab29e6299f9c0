"""The Patch2Loc network (paper section 2.4).

A ResNet-18 encodes a small patch of an axial slice into a 512-d feature; a 512-d sinusoidal
encoding of the slice's axial position is added to it; two heads of identical shape (no weight
sharing) predict the mean and the log-variance of the patch centre's 2D position, in percent.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn
from torch.nn import functional as F

FEATURE_DIM = 512
HEAD_WIDTHS = (512, 512, 128, 64, 32)  # input width, then the four hidden Linear+BN+ReLU outputs
# Output-bias initialisation (the paper leaves initialisation to PyTorch's defaults): the mean
# head starts at the centre of the 0-100 % range and the log-variance head at the log-variance
# of a uniform position on it (100^2 / 12). The architecture and the loss are unchanged; training
# no longer spends its first hundreds of steps moving the outputs from 0 to the target range.
INITIAL_MEAN = 50.0
INITIAL_LOGVAR = math.log(100.0**2 / 12.0)


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


def _used_taps(size: int, kernel: int, stride: int, pad: int) -> tuple[int, int]:
    """Kernel taps [first, last] along one axis that touch real input (not zero padding) for at
    least one output position; tap t of output o reads input o * stride + t - pad."""
    n_out = (size + 2 * pad - kernel) // stride + 1
    first = max(0, pad - (n_out - 1) * stride)
    last = min(kernel - 1, pad + size - 1)
    return first, last


class TrimmedConv2d(nn.Conv2d):
    """nn.Conv2d that skips the kernel taps which only ever multiply zero padding.

    On a patch of 8 (the demo) or 24 (the paper) pixels, the last ResNet stages see 1x1 or 2x2
    feature maps: a 3x3 convolution there spends 5/9 to 8/9 of its work, forward and backward,
    on padding. The result is the same convolution (same weights, state_dict and outputs up to
    float summation order; the gradient of an unused tap is exactly zero, as it is for nn.Conv2d),
    computed on the used taps only; where the output is a single position, as a matrix product.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.groups != 1 or self.dilation != (1, 1) or self.padding_mode != "zeros" or isinstance(self.padding, str):
            return super().forward(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        (r0, r1), (c0, c1) = _used_taps(x.shape[-2], kh, sh, ph), _used_taps(x.shape[-1], kw, sw, pw)
        if r0 > r1 or c0 > c1:  # every tap on padding (padding >= kernel): leave it to nn.Conv2d
            return super().forward(x)
        out_h = (x.shape[-2] + 2 * ph - kh) // sh + 1
        out_w = (x.shape[-1] + 2 * pw - kw) // sw + 1
        if out_h == out_w == 1:
            # One output position: the used taps read input rows r0-ph..r1-ph (all real input), so
            # the convolution is one matrix product, far faster than a CPU conv kernel on 1x1 maps.
            window = x[:, :, r0 - ph : r1 - ph + 1, c0 - pw : c1 - pw + 1].reshape(x.shape[0], -1)
            weight = self.weight[:, :, r0 : r1 + 1, c0 : c1 + 1].reshape(self.out_channels, -1)
            return F.linear(window, weight, self.bias)[:, :, None, None]
        if (r0, r1, c0, c1) == (0, kh - 1, 0, kw - 1):
            return super().forward(x)
        weight = self.weight[:, :, r0 : r1 + 1, c0 : c1 + 1]
        # Cropping taps [0, r0) moves the window start: r0 fewer rows of padding before the input,
        # and enough after it to keep the output size.
        top, left = ph - r0, pw - c0
        bottom = max(0, (out_h - 1) * sh + (r1 - r0 + 1) - top - x.shape[-2])
        right = max(0, (out_w - 1) * sw + (c1 - c0 + 1) - left - x.shape[-1])
        if top == bottom and left == right:
            return F.conv2d(x, weight, self.bias, self.stride, (top, left))
        return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, self.bias, self.stride)


def _trim_convolutions(module: nn.Module) -> None:
    """Swap every nn.Conv2d below `module` for a TrimmedConv2d sharing its parameters."""
    for child in module.children():
        if type(child) is nn.Conv2d:
            child.__class__ = TrimmedConv2d  # same attributes and parameters, only forward differs
        else:
            _trim_convolutions(child)


def resnet18_encoder(channels: int = 1) -> nn.Module:
    """torchvision ResNet-18 with `channels` input channels (1: one contrast, the paper's; C:
    co-registered contrasts, docs/multimodal.md), a 3x3 stride-2 first conv, and no fc.

    Padding 3 on the first conv follows the authors' code (the paper only says kernel 3).
    Its convolutions are `TrimmedConv2d` (identical maths, no work on taps that see only padding).
    """
    # imported here: a job that only reads patch sizes skips torchvision's import (seconds)
    from torchvision.models import resnet18

    net = resnet18(weights=None)
    net.conv1 = nn.Conv2d(channels, 64, kernel_size=3, stride=2, padding=3, bias=False)
    net.fc = nn.Identity()
    _trim_convolutions(net)
    return net


class Patch2LocNet(nn.Module):
    """model(patches [N,C,P,P], slice_pos [N] in percent) -> (mean [N,2], logvar [N,2]).

    Only the first convolution sees the C channels; with C = 1 the network is the paper's, built
    in the same order (same parameters from the same seed)."""

    def __init__(self, patch_size: int = 24, channels: int = 1):
        super().__init__()
        self.patch_size, self.channels = int(patch_size), int(channels)
        self.encoder = resnet18_encoder(self.channels)
        self.mean_head = _head()
        self.logvar_head = _head()
        nn.init.constant_(self.mean_head[-1].bias, INITIAL_MEAN)
        nn.init.constant_(self.logvar_head[-1].bias, INITIAL_LOGVAR)

    def forward(self, patches: torch.Tensor, slice_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.encoder(patches)
        feature = feature + sinusoidal_encoding(slice_pos, feature.shape[1]).to(feature.dtype)
        return self.mean_head(feature), self.logvar_head(feature)


@functools.lru_cache(maxsize=4)
def _expected_weights(patch_size: int, channels: int = 1) -> dict:
    """The network's tensors (names, shapes, dtypes), built on the meta device: no memory, no init."""
    with torch.device("meta"):
        return Patch2LocNet(patch_size, channels).state_dict()


def checkpoint_channels(ckpt: dict) -> int:
    """Input channels recorded in a checkpoint's config (read_checkpoint bounds them)."""
    return ckpt["config"]["channels"]


def weights_problem(weights: dict, patch_size: int, channels: int = 1) -> str | None:
    """How `weights` do not fit Patch2LocNet(patch_size, channels) (None when every tensor fits),
    compared name by name, shape by shape, before the network is built."""
    expected = _expected_weights(patch_size, channels)
    missing = [k for k in expected if k not in weights]
    extra = [k for k in weights if k not in expected]
    if missing or extra:
        names = ", ".join((missing or extra)[:3])
        return f"{len(missing)} tensor(s) missing, {len(extra)} unexpected (e.g. {names})"
    for name, want in expected.items():
        got = weights[name]
        if tuple(got.shape) != tuple(want.shape):
            return f"{name} has shape {list(got.shape)}, the network's is {list(want.shape)}"
        if got.dtype.is_floating_point != want.dtype.is_floating_point or got.is_complex():
            return f"{name} holds {got.dtype}, the network's holds {want.dtype}"
        # a float64 sum is finite exactly when every float32/16 value is (and is cheaper than isfinite)
        if got.dtype.is_floating_point and not bool(torch.isfinite(got.sum(dtype=torch.float64))):
            return f"{name} holds NaN or infinite weights"
    return None


def load_model(checkpoint: str, device: str | torch.device = "cpu") -> tuple[Patch2LocNet, dict]:
    """Rebuild the network from a training checkpoint; returns (model in eval mode, checkpoint dict).

    The file is read with `checkpoint.read_checkpoint` (no code from it runs; sizes and fields
    checked) on the CPU, every tensor is compared with the network's (`weights_problem`) before
    the network is built, and the model is then moved to `device`, so a device problem is never
    reported as a bad checkpoint."""
    from patch2loc.errors import InputError
    from patch2loc.run.checkpoint import read_checkpoint

    ckpt = read_checkpoint(checkpoint)
    channels = checkpoint_channels(ckpt)
    problem = weights_problem(ckpt["model"], ckpt["patch_size"], channels)
    if problem:
        raise InputError(
            f"{checkpoint}: not a usable Patch2Loc checkpoint (weights do not fit the network: "
            f"{problem}). Pass a best.pt or last.pt written by patch2loc train."
        )
    model = Patch2LocNet(patch_size=ckpt["patch_size"], channels=channels)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt
