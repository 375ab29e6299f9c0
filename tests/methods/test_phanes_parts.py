"""PHANES' parts that do not depend on RA (docs/phanes.md): the AOT-GAN inpainter against the reference's
numbers and formulas, the inpainter's losses against direct computations, and the VGG-19 weights' loading.
The masks are tested in test_phanes_masks.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torchvision.models import vgg19

from patch2loc.errors import InputError
from patch2loc.networks import pretrained
from patch2loc.methods.phanes import losses
from patch2loc.methods.phanes.aotgan import AOTBlock, Discriminator, InpaintGenerator, check_size, gate_norm
from tests.helpers.published import publish, random_state


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_are_the_reference_networks():
    """Counted by hand from model_zoo/aotgan/aotgan.py: a k x k conv is k^2 in out (+ out with a bias)."""
    encoder = (49 * 2 * 64 + 64) + (16 * 64 * 128 + 128) + (16 * 128 * 256 + 256)
    assert encoder == 6_336 + 131_200 + 524_544 == 662_080
    block = 4 * (9 * 256 * 64 + 64) + 2 * (9 * 256 * 256 + 256)  # 4 dilated branches; fuse and gate
    assert block == 590_080 + 1_180_160 == 1_770_240
    decoder = (9 * 256 * 128 + 128) + (9 * 128 * 64 + 64) + (9 * 64 * 1 + 1)
    assert decoder == 295_040 + 73_792 + 577 == 369_409
    assert encoder + 8 * block + decoder == 15_193_409
    disc = 16 * (1 * 64 + 64 * 128 + 128 * 256 + 256 * 512) + (16 * 512 + 1)  # spectral norm: u, v are buffers
    assert disc == 2_761_729
    g, d = InpaintGenerator(), Discriminator()
    assert _count(g) == 15_193_409 and _count(d) == 2_761_729
    x = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        out, logits = g(x, torch.zeros_like(x)), d.eval()(x)
    assert out.shape == x.shape and out.abs().max() < 1 and logits.shape == (2, 1, 14, 14)


@torch.no_grad()
def test_initialisation_is_normal_002_with_zero_biases():
    g, d = InpaintGenerator(blocks=1), Discriminator()
    w = g.middle[0].fuse[1].weight
    assert abs(float(w.std()) - 0.02) < 5e-4 and abs(float(w.mean())) < 5e-4
    assert all(float(m.bias.abs().max()) == 0 for m in g.modules() if isinstance(m, torch.nn.Conv2d))
    original = d.conv[6].parametrizations.weight.original  # the 256 -> 512 conv's raw weight
    assert abs(float(original.std()) - 0.02) < 5e-4 and float(d.conv[8].bias.abs().max()) == 0


def test_sizes_the_generator_takes():
    assert check_size(128) == 128 and check_size(48) == 48
    for bad in (32, 130):  # 32: an 8 x 8 middle cannot take a reflection pad of 8
        with pytest.raises(InputError):
            check_size(bad)


def test_gate_norm_on_hand_numbers():
    g = torch.tensor([0.0, 1.0, 2.0, 3.0]).view(1, 1, 2, 2)  # mean 1.5, unbiased std sqrt(5/3)
    std = np.sqrt(5 / 3)
    expected = [5 * (2 * (v - 1.5) / (std + 1e-9) - 1) for v in (0, 1, 2, 3)]
    assert np.allclose(gate_norm(g).flatten().numpy(), expected, rtol=1e-6)


def test_aot_block_against_a_direct_computation():
    torch.manual_seed(0)
    block = AOTBlock(dim=8)
    x = torch.randn(2, 8, 12, 12)

    def conv(t, seq, r=1):
        return F.conv2d(F.pad(t, [r] * 4, mode="reflect"), seq[1].weight, seq[1].bias, dilation=r)

    branches = [F.relu(conv(x, b[0], r)) for b, r in zip(block.branches, (1, 2, 4, 8))]
    fused = conv(torch.cat(branches, 1), block.fuse)
    g = conv(x, block.gate).detach().numpy()
    mean = g.mean(axis=(2, 3), keepdims=True)
    std = g.std(axis=(2, 3), ddof=1, keepdims=True)
    gate = torch.from_numpy(1 / (1 + np.exp(-5 * (2 * (g - mean) / (std + 1e-9) - 1))))
    expected = x * (1 - gate) + fused * gate
    with torch.no_grad():
        assert torch.allclose(block(x), expected, atol=1e-5)


# ---- losses -------------------------------------------------------------------------------------------

# The reference's VGG groups (model_zoo/aotgan/loss/common.py l. 20-32): relu{i}_{j} is the output of
# the last features index of its group.
GROUP_END = {"relu1_1": 1, "relu2_1": 6, "relu2_2": 8, "relu3_1": 11, "relu3_4": 17}
GROUP_END |= {"relu4_1": 20, "relu4_4": 26, "relu5_1": 29, "relu5_2": 31}


def _direct_features(features, x):
    x = x.repeat(1, 3, 1, 1)
    x = ((x + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1
    )
    out = {}
    for i in range(36):
        x = features[i](x)
        out |= {name: x.clone() for name, end in GROUP_END.items() if end == i}
    return out


def _direct_gram(f):
    b, c, h, w = f.shape
    return torch.einsum("bik,bjk->bij", f.reshape(b, c, -1), f.reshape(b, c, -1)) / (c * h * w)


def test_gram_on_hand_numbers():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # c 2, h 1, w 2
    assert torch.allclose(losses.gram(f), torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4)


@pytest.fixture(scope="module")
def random_vgg():
    torch.manual_seed(1)
    return losses.VGGFeatures()


def test_style_and_perceptual_losses_against_direct_computations(random_vgg):
    twin = vgg19(weights=None).features  # the same random weights in torchvision's own network
    twin.load_state_dict(random_vgg.features.state_dict())
    torch.manual_seed(2)
    pred, target = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        fx, fy = _direct_features(twin, pred), _direct_features(twin, target)
        perceptual = sum((fx[f"relu{i}_1"] - fy[f"relu{i}_1"]).abs().mean() for i in range(1, 6))
        style = sum(
            (_direct_gram(fx[k]) - _direct_gram(fy[k])).abs().mean()
            for k in ("relu2_2", "relu3_4", "relu4_4", "relu5_2")
        )
        terms = losses.reconstruction_losses(pred, target, random_vgg)
    assert float(perceptual) > 0 and float(style) > 0
    assert torch.allclose(terms["l1"], (pred - target).abs().mean())
    assert torch.allclose(terms["style"], 250 * style, rtol=1e-5)
    assert torch.allclose(terms["perceptual"], 0.1 * perceptual, rtol=1e-5)
    assert losses.reconstruction_losses(pred, target, None).keys() == {"l1"}  # the offline variant


def test_the_vgg_is_frozen_but_passes_gradients_to_the_image(random_vgg):
    pred = torch.rand(1, 1, 32, 32, requires_grad=True)
    sum(losses.reconstruction_losses(pred, torch.rand(1, 1, 32, 32), random_vgg).values()).backward()
    assert pred.grad is not None and all(p.grad is None for p in random_vgg.parameters())
    assert not any(p.requires_grad for p in random_vgg.parameters())


def _direct_kernel(size=71, sigma=10.0):
    g = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def test_smgan_target_is_the_mask_blurred_71_sigma_10():
    mask = torch.zeros(1, 1, 80, 80)
    mask[0, 0, 40, 40] = 1
    blurred, k = losses.blur(mask)[0, 0].numpy(), _direct_kernel()
    assert np.allclose(blurred[5:76, 5:76], k, atol=1e-7) and blurred[:5].max() == 0  # a kernel copy, 35 around
    corner = torch.zeros(1, 1, 80, 80)
    corner[0, 0, 0, 0] = 1  # zero padding: what is left of the kernel, a quarter and a half row and column
    assert np.isclose(losses.blur(corner).sum().item(), k[35:, 35:].sum(), atol=1e-6)


class Recorder(torch.nn.Module):
    """A stub discriminator (one 4x4 stride-2 conv, so its outputs are resized) that records its calls."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 4, stride=2, padding=1)
        self.calls = []

    def forward(self, x):
        self.calls.append((x.requires_grad, torch.is_grad_enabled()))
        return self.conv(x)


def test_smgan_losses_against_a_direct_computation():
    torch.manual_seed(3)
    net, real = Recorder(), torch.rand(2, 1, 16, 16)
    pred = torch.rand(2, 1, 16, 16, requires_grad=True)
    masks = (torch.rand(2, 1, 16, 16) > 0.8).float()
    dis, gen = losses.smgan_losses(net, pred, real, masks)
    assert net.calls == [(True, False), (False, True), (False, True)]  # composite, detached, real

    def up(t):
        return F.interpolate(t, size=(16, 16), mode="bilinear", align_corners=True).detach().numpy()

    with torch.no_grad():
        d_fake, d_real = up(net.conv(pred)), up(net.conv(real))
    k = torch.from_numpy(_direct_kernel()).float()[None, None]
    target = F.conv2d(masks, k, padding=35).numpy()
    assert np.isclose(dis.item(), ((d_fake - target) ** 2).mean() + (d_real**2).mean(), rtol=1e-5)
    assert np.isclose(gen.item(), ((d_fake - 1) ** 2).mean(), rtol=1e-5)
    assert dis.requires_grad and not gen.requires_grad  # the reference never back-propagates its G term
    dis.backward()
    assert pred.grad is None  # the discriminator's loss does not reach the generator
    _, gen = losses.smgan_losses(net, pred, real, masks, generator_grad=True)
    gen.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


# ---- the published VGG-19 -----------------------------------------------------------------------------


def test_weights_setting_and_a_missing_file_are_refused_in_one_line(tmp_path):
    assert losses.vgg_for("random", tmp_path, "phanes") is None
    with pytest.raises(InputError) as err:
        losses.vgg_for("imagenet", tmp_path, "phanes")
    assert "\n" not in str(err.value) and pretrained.FILES["vgg19"].file + ": missing" in str(err.value)
    assert "list PHANES-noPretrained in `methods`" in str(err.value)  # the offline variant (registry)
    with pytest.raises(InputError, match="phanes.weights"):
        losses.vgg_for("imagenet1k", tmp_path, "phanes")


def test_a_published_file_is_loaded_into_the_extractor(tmp_path, monkeypatch):
    torch.manual_seed(4)
    state = random_state("vgg19")  # the published key set: features and classifier (not read)
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    publish("vgg19", state, tmp_path, monkeypatch, "fake-vgg19.pth")
    spec = pretrained.FILES["vgg19"]
    monkeypatch.setitem(pretrained.FILES, "vgg19", dataclasses.replace(spec, sha256="0" * 64))
    with pytest.raises(InputError, match="sha256"):  # a file that is not the published one
        losses.vgg_for("imagenet", tmp_path, "phanes")
    monkeypatch.setitem(pretrained.FILES, "vgg19", spec)
    vgg = losses.vgg_for("imagenet", tmp_path, "phanes")
    loaded = vgg.features.state_dict()
    assert loaded.keys() == {k for k in features if int(k.split(".")[0]) < 36}
    assert all(torch.equal(v, features[k]) for k, v in loaded.items())
    assert not any(p.requires_grad for p in vgg.parameters())
