"""The network as the dense scoring runs it: every BatchNorm folded into the layer before it, the
encoder's weights in the scoring's reduced precision.

On 24 x 24 patches a ResNet-18's feature maps are 12 x 12 at most, so each BatchNorm is a full read
and write of the activations for a few operations per value. In eval mode a BatchNorm is an affine
map with fixed statistics, so it folds exactly into the convolution or linear layer before it
(torch.nn.utils.fusion); what remains is the same function up to float rounding. The encoder's
weights are then cast once to bf16/fp16 and kept channels_last; the heads stay fp32 for the reason
given in the package docstring. Measured on an H200 (docs/gpu.md), folding alone is no faster than
autocast with cuDNN's tuned kernels; under torch.compile (`heatmap.compile`) the folded network
scores a volume in about two thirds of the time.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from patch2loc.methods.patch2loc.model import Patch2LocNet

# "plain": the trained network under autocast (the fp32 path, and the reduced-precision path before
# folding); "folded": BatchNorm folded, weights cast; "folded-untrimmed": the same with torch's own
# convolution where the network skips the kernel taps that see only padding (a GPU comparison).
ENGINES = ("auto", "plain", "folded", "folded-untrimmed")


@dataclass
class Prepared:
    """What `forward` runs: the network on the device, the dtype its encoder's input is cast to,
    and the autocast dtype around the encoder (None: no autocast)."""

    net: Patch2LocNet
    input_dtype: torch.dtype
    autocast: torch.dtype | None
    channels_last: bool


def resolve_engine(engine: str, amp_dtype: torch.dtype | None, compiled: bool = False) -> str:
    """What "auto" means: the trained network as it is (on an H200, folding alone gained nothing
    over autocast with cuDNN's tuned kernels, docs/gpu.md); under torch.compile in reduced precision
    the folded one (the variant measured: the compiler fuses what folding leaves)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "auto":
        return "folded" if compiled and amp_dtype is not None else "plain"
    return engine


def _fold(module: nn.Module) -> None:
    """Fold, below `module`, every BatchNorm into the Conv2d or Linear registered just before it
    (torchvision's ResNet and the heads register each normalisation right after its layer)."""
    children = list(module.named_children())
    for (prev_name, prev), (name, child) in zip(children, children[1:]):
        if isinstance(child, nn.BatchNorm2d) and isinstance(prev, nn.Conv2d):
            setattr(module, prev_name, fuse_conv_bn_eval(prev, child))
            setattr(module, name, nn.Identity())
        elif isinstance(child, nn.BatchNorm1d) and isinstance(prev, nn.Linear):
            setattr(module, prev_name, fuse_linear_bn_eval(prev, child))
            setattr(module, name, nn.Identity())
    for child in module.children():
        _fold(child)


def _untrim(module: nn.Module) -> None:
    for child in module.modules():
        if isinstance(child, nn.Conv2d) and type(child) is not nn.Conv2d:
            child.__class__ = nn.Conv2d


def folded(model: Patch2LocNet, dtype: torch.dtype, trimmed: bool = True) -> Patch2LocNet:
    """A copy of `model` (on its device) with every BatchNorm folded and the encoder in `dtype`,
    channels_last; `model` itself is left as it was."""
    net = copy.deepcopy(model).eval()
    with torch.no_grad():
        _fold(net)
    if not trimmed:
        _untrim(net.encoder)
    net.encoder.to(dtype=dtype, memory_format=torch.channels_last)
    return net


# A compiled network per trained one, kept while the trained one lives and its weights are unchanged.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def prepare(
    model: Patch2LocNet, device: torch.device, amp_dtype, engine: str = "auto", compile: bool = False
) -> Prepared:
    """The network ready to score on `device` in `amp_dtype` (None: fp32) with `engine`; with
    `compile` on a GPU, its encoder compiled by torch.compile once per model (seconds at the first
    volume, then kernels fused across the layers)."""
    if not (compile and device.type == "cuda"):
        return _prepare(model, device, amp_dtype, engine)
    key = (str(device), amp_dtype, engine, tuple(p._version for p in model.parameters()))
    cached = _COMPILED.get(model)
    if cached is None or cached[0] != key:
        prepared = _prepare(model, device, amp_dtype, engine, compiled=True)
        prepared.net.encoder = torch.compile(prepared.net.encoder)
        _COMPILED[model] = cached = (key, prepared)
    return cached[1]


def _prepare(model: Patch2LocNet, device: torch.device, amp_dtype, engine: str, compiled: bool = False) -> Prepared:
    engine = resolve_engine(engine, amp_dtype, compiled)
    model = model.to(device).eval()
    if engine == "plain":
        if amp_dtype is not None:  # cuDNN and oneDNN prefer NHWC for bf16/fp16 convolutions
            model.encoder.to(memory_format=torch.channels_last)
        return Prepared(model, torch.float32, amp_dtype, channels_last=amp_dtype is not None)
    dtype = amp_dtype or torch.float32
    return Prepared(folded(model, dtype, trimmed=engine == "folded"), dtype, None, channels_last=True)
