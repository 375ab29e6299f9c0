"""Network structure against the paper's spec (section 2.4) and the exact parameter count."""
from __future__ import annotations

import math

import torch
from torch import nn

from patch2loc.model import Patch2LocNet, patch_size_for, sinusoidal_encoding


def _conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k  # no bias in ResNet convolutions


def _bn(c: int) -> int:
    return 2 * c  # weight and bias (running stats are buffers, not parameters)


def _basic_block(c_in: int, c_out: int, downsample: bool) -> int:
    n = _conv(c_in, c_out, 3) + _bn(c_out) + _conv(c_out, c_out, 3) + _bn(c_out)
    if downsample:
        n += _conv(c_in, c_out, 1) + _bn(c_out)
    return n


def expected_parameter_count() -> int:
    """Count from the layer shapes of the spec, independently of torchvision."""
    encoder = _conv(1, 64, 3) + _bn(64)
    c_in = 64
    for c_out in (64, 128, 256, 512):
        encoder += _basic_block(c_in, c_out, downsample=c_in != c_out) + _basic_block(c_out, c_out, False)
        c_in = c_out
    widths = [512, 512, 128, 64, 32]
    head = sum(a * b + b + _bn(b) for a, b in zip(widths[:-1], widths[1:])) + 32 * 2 + 2
    return encoder + 2 * head


def test_parameter_count_matches_spec():
    model = Patch2LocNet(24)
    n = sum(p.numel() for p in model.parameters())
    print(f"Patch2LocNet parameters: {n}")
    assert n == expected_parameter_count() == 11_848_068


def test_first_conv_and_no_fc():
    enc = Patch2LocNet(24).encoder
    c = enc.conv1
    assert (c.in_channels, c.out_channels) == (1, 64)
    assert c.kernel_size == (3, 3) and c.stride == (2, 2) and c.padding == (3, 3) and c.bias is None
    assert isinstance(enc.fc, nn.Identity)


def test_heads_structure_and_no_weight_sharing():
    model = Patch2LocNet(24)
    for head in (model.mean_head, model.logvar_head):
        kinds = [type(m) for m in head]
        assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU] * 4 + [nn.Linear]
        linears = [m for m in head if isinstance(m, nn.Linear)]
        assert [(l.in_features, l.out_features) for l in linears] == [
            (512, 512), (512, 128), (128, 64), (64, 32), (32, 2)]
    shared = {id(p) for p in model.mean_head.parameters()} & {id(p) for p in model.logvar_head.parameters()}
    assert not shared


def test_output_shapes_and_position_changes_output():
    torch.manual_seed(0)
    model = Patch2LocNet(8).eval()
    x = torch.randn(5, 1, 8, 8)
    mean, logvar = model(x, torch.full((5,), 30.0))
    assert mean.shape == (5, 2) and logvar.shape == (5, 2)
    mean2, _ = model(x, torch.full((5,), 70.0))
    assert not torch.allclose(mean, mean2)  # the slice position enters the prediction


def test_sinusoidal_encoding_formula():
    pos = torch.tensor([0.0, 12.5, 99.0])
    enc = sinusoidal_encoding(pos, 8)
    for j, p in enumerate(pos.tolist()):
        for i in range(4):
            arg = p / 10000 ** (2 * i / 8)
            assert math.isclose(enc[j, 2 * i].item(), math.sin(arg), abs_tol=1e-5)
            assert math.isclose(enc[j, 2 * i + 1].item(), math.cos(arg), abs_tol=1e-5)


def test_patch_size_for():
    assert patch_size_for(192) == 24
    assert patch_size_for(32) == 4
