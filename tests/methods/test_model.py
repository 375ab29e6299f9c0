"""Network structure against the paper's spec (section 2.4) and the exact parameter count."""

from __future__ import annotations

import math

import torch
from torch import nn

from patch2loc.methods.patch2loc.model import Patch2LocNet, sinusoidal_encoding
from patch2loc.methods.patch2loc.patch_size import patch_size_for


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
        assert [(layer.in_features, layer.out_features) for layer in linears] == [
            (512, 512),
            (512, 128),
            (128, 64),
            (64, 32),
            (32, 2),
        ]
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


def test_trimmed_convolution_equals_conv2d_forward_and_backward():
    """TrimmedConv2d skips taps that only see padding; outputs and gradients must not change."""
    from patch2loc.methods.patch2loc.model import TrimmedConv2d

    torch.manual_seed(0)
    trimmed_somewhere = False
    for size in (1, 2, 3, 5, 8):
        for kernel, stride, pad in [(3, 1, 1), (3, 2, 1), (3, 2, 3), (1, 2, 0), (5, 1, 2), (3, 1, 0)]:
            if size + 2 * pad < kernel:
                continue
            ref = nn.Conv2d(4, 6, kernel, stride, pad, bias=False).double()
            new = TrimmedConv2d(4, 6, kernel, stride, pad, bias=False).double()
            new.load_state_dict(ref.state_dict())
            x = torch.randn(3, 4, size, size, dtype=torch.float64)
            out_ref, out_new = ref(x), new(x)
            assert out_ref.shape == out_new.shape, (size, kernel, stride, pad)
            torch.testing.assert_close(out_new, out_ref)
            g = torch.randn_like(out_ref)
            out_ref.backward(g)
            out_new.backward(g)
            torch.testing.assert_close(new.weight.grad, ref.weight.grad)
            trimmed_somewhere |= bool((ref.weight.grad == 0).any())
    assert trimmed_somewhere  # some cases really had taps on padding only


def test_encoder_uses_trimmed_convolutions_with_the_same_state_dict():
    from patch2loc.methods.patch2loc.model import TrimmedConv2d

    model = Patch2LocNet(8)
    convs = [m for m in model.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(isinstance(m, TrimmedConv2d) for m in convs)
    # A model built from plain torchvision layers loads the same state_dict and gives the same output.
    from torchvision.models import resnet18

    plain = resnet18(weights=None)
    plain.conv1 = nn.Conv2d(1, 64, kernel_size=3, stride=2, padding=3, bias=False)
    plain.fc = nn.Identity()
    plain.load_state_dict(model.encoder.state_dict())
    model.eval(), plain.eval()
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(model.encoder(x), plain(x), rtol=1e-4, atol=1e-5)
