"""PHANES as a method (docs/phanes.md): the networks' size against the reference's, the scoring map of
crafted slices against one assembled by hand from its pieces, the settings' bounds, the schema, and
the paper method and its offline variant refusing each other's weights. Training and scoring of
volumes: test_phanes_training.py; the parts (inpainter, losses, masks): test_phanes_parts.py,
test_phanes_masks.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy.ndimage import gaussian_filter
from skimage.exposure import equalize_adapthist

from patch2loc.errors import InputError
from patch2loc.networks.lpips import SqueezeLPIPS
from patch2loc.methods.phanes import masks
from patch2loc.methods.phanes.model import PHANESModel, trainable_count
from patch2loc.methods.phanes.offline import Settings as VariantSettings
from patch2loc.methods.phanes.restore import phanes_map, restore
from patch2loc.methods.phanes.score import anomaly_map
from patch2loc.methods.phanes.train import PHANESConfig, build_vae
from patch2loc.methods.ra.model import parameter_count

REPO = Path(__file__).resolve().parents[2]
SIZE = 64


def test_trainable_parameters_at_the_paper_settings_are_the_references():
    """RA's 29,955,073 (test_ra.py) + the inpainter's 15,193,409 + the discriminator's 2,761,729
    (test_phanes_parts.py), counted on the meta device; the LPIPS network is frozen."""
    cfg = PHANESConfig()
    with torch.device("meta"):
        model = PHANESModel(build_vae(cfg.architecture()), SqueezeLPIPS())
    assert parameter_count(model.vae) == 29_955_073
    assert parameter_count(model.generator) == 15_193_409 and parameter_count(model.discriminator) == 2_761_729
    assert trainable_count(model) == 29_955_073 + 15_193_409 + 2_761_729 == 47_910_211
    assert trainable_count(model.perceptual) == 0 and parameter_count(model.perceptual) > 0


def _model(perceptual: bool) -> PHANESModel:
    torch.manual_seed(5)
    net = SqueezeLPIPS() if perceptual else None
    if net is not None:  # random but non-zero heads (the published ones are non-negative)
        for head in net.heads:
            head.weight.data.uniform_(0, 1)
    model = PHANESModel(build_vae(dict(size=SIZE, width=2, zdim=8, expand_transitions=True)), net).eval()
    model.seed = 11
    return model


def _slices() -> tuple[torch.Tensor, torch.Tensor]:
    """(two crafted slices, their brain): a bright disc with a gradient and some noise, a bright blob
    in the second; [2, 1, SIZE, SIZE]."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1) * 2 - 1
    disc = (xx**2 + yy**2 < 0.7).astype(np.float32)
    base = 0.55 + 0.25 * xx * yy + 0.02 * np.random.default_rng(0).standard_normal((SIZE, SIZE))
    blob = ((xx - 0.3) ** 2 + (yy + 0.2) ** 2 < 0.03).astype(np.float32)
    pair = (np.stack([base, base + 0.4 * blob]) * disc).clip(0, 1).astype(np.float32)
    return torch.from_numpy(pair).unsqueeze(1), torch.from_numpy(np.stack([disc, disc])).unsqueeze(1)


def _lpips_smoothed(net: SqueezeLPIPS, a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """The reference's get_saliency: LPIPS of (2a - 1, 2b - 1), then scipy's Gaussian of sigma 2 (per slice)."""
    with torch.no_grad():
        maps = net(2 * a - 1, 2 * b - 1)[:, 0].numpy()
    return np.stack([gaussian_filter(m, sigma=2) for m in maps])


def _by_hand(model: PHANESModel, x: torch.Tensor, brain: torch.Tensor) -> np.ndarray:
    """phanes.py forward + get_anomaly, written out: coarse from the seeded sampled code (x the brain, as
    the slice), CLAHE residual
    over its 95th percentile (clipped at 1) x saliency(coarse, x), binarised at each slice's 95th
    percentile, smoothed (sigma 1.2) > 0.1, masked input set to 1, inpainted, clamped, composited;
    map = |x - final| x saliency(final, x). Without an LPIPS network: no saliency, no clip."""
    net = model.perceptual
    with torch.no_grad():
        coarse = model.vae(x, torch.Generator().manual_seed(model.seed))[0] * brain
    xs, cs = x[:, 0].numpy(), coarse[:, 0].numpy()
    mask = np.zeros_like(xs)
    sal = _lpips_smoothed(net, coarse, x) if net is not None else np.ones_like(xs)
    for b in range(len(xs)):
        res = np.abs(equalize_adapthist(cs[b]) - equalize_adapthist(xs[b])).astype(np.float32)
        res = res / (float(torch.quantile(torch.from_numpy(res), 0.95)) + 1e-8)
        res = np.minimum(res, 1) * sal[b] if net is not None else res  # the variant: not clipped
        binary = (res > np.percentile(res, 95)).astype(np.float64)
        mask[b] = gaussian_filter(binary, sigma=1.2) > 0.1
    m = torch.from_numpy(mask).unsqueeze(1)
    with torch.no_grad():
        inpainted = model.generator(x * (1 - m) + m, m).clamp(0, 1)
    final = (1 - m) * x + m * inpainted
    out = (x - final).abs()[:, 0].numpy()
    return out * _lpips_smoothed(net, final, x) if net is not None else out


@pytest.mark.parametrize("perceptual", [True, False], ids=["PHANES", "PHANES-noPretrained"])
def test_the_map_of_crafted_slices_is_the_one_assembled_by_hand(perceptual):
    model, (x, brain) = _model(perceptual), _slices()
    expected = _by_hand(model, x, brain)
    final, coarse, mask = restore(model, x, torch.Generator().manual_seed(model.seed), None, brain)
    assert 0 < mask.mean() < 0.5 and expected.max() > 0 and (coarse[brain == 0] == 0).all()
    np.testing.assert_allclose(phanes_map(model.perceptual, x, final)[:, 0].numpy(), expected, atol=1e-6)
    # the volume path: slices already on the model's grid, one batch; the map set to 0 outside the brain
    volume, inside = (t[:, 0].numpy().transpose(1, 2, 0) for t in (x, brain))
    score = anomaly_map(model, volume, inside > 0, "cpu")
    np.testing.assert_allclose(score, (expected * brain[:, 0].numpy()).transpose(1, 2, 0), atol=1e-6)


def test_without_a_network_the_mask_is_the_residuals_top_five_percent():
    """Saliency 1 and the residual clipped at 1 as the reference's: its top 5 % all equal 1, the 95th
    percentile is 1, and nothing is masked; unclipped (the variant's), the mask is the pixels above the
    residual's own 95th percentile, dilated; at the training threshold 0.1 the clip changes nothing."""
    # |y - x| = 0, 1/20, ..., 1 on 3 x 7 pixels (CLAHE the identity): the 95th percentile is the 20th value
    ramp = (torch.arange(21.0) / 20).reshape(1, 1, 3, 7)
    x, y, ones, same = torch.zeros_like(ramp), ramp, torch.ones_like(ramp), lambda a: a
    assert masks.anomaly_mask(x, y, same, ones, None)[0].sum() == 0
    mask = masks.anomaly_mask(x, y, same, ones, None, clip=False)[0]
    top = ramp > torch.quantile(ramp, 0.95)
    assert top.sum() == 1 and top[0, 0, 2, 6]
    torch.testing.assert_close(mask, masks.smooth(top.float()), rtol=0, atol=0)
    for clip in (True, False):
        at_01 = masks.anomaly_mask(x, y, same, ones, masks.TRAIN_THRESHOLD, clip=clip)[0]
        torch.testing.assert_close(at_01, masks.smooth((ramp / 0.95 > 0.1).float()), rtol=0, atol=0)
    model, (x, _) = _model(False), _slices()  # restore() without a network: the unclipped residual's mask
    coarse = model.vae(x, torch.Generator().manual_seed(3))[0].detach()
    want = masks.anomaly_mask(x, coarse, equalize_adapthist, torch.ones_like(x), None, clip=False)[0]
    torch.testing.assert_close(restore(model, x, torch.Generator().manual_seed(3), None)[2], want, rtol=0, atol=0)


def test_the_paper_method_and_its_variant_refuse_each_others_weights():
    assert PHANESConfig().weights == "imagenet" and PHANESConfig().method == "PHANES"
    variant = VariantSettings()
    assert variant.weights == "random" and variant.method == "PHANES-noPretrained"
    with pytest.raises(InputError, match="PHANES trains with weights imagenet.*variant_of PHANES"):
        PHANESConfig(weights="random")
    with pytest.raises(InputError, match="PHANES-noPretrained trains with weights random.*list PHANES in `methods`"):
        VariantSettings(weights="imagenet")


def test_settings_schema_and_bounds():
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    keys = set(schema["properties"]["phanes"]["properties"]) - {"threads"}
    # not in the block: the method (PHANES or PHANES-noPretrained) sets `method` and `weights`, the
    # workflow `pretrained_home`
    code = {f.name for f in dataclasses.fields(PHANESConfig)} - {"device", "num_threads", "modality"}
    assert code - {"method", "weights", "pretrained_home"} == keys
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["phanes"]
    assert not {"weights", "pretrained_home", "method"} & set(config)
    block = {k: v for k, v in config.items() if k != "threads"}
    assert PHANESConfig(**block) == PHANESConfig()  # the config block sets nothing the reference's defaults do not
    with pytest.raises(InputError, match="multiple of 32"):
        PHANESConfig(size=96 + 16)
    with pytest.raises(InputError, match="phanes.size"):  # 32: RA builds it, the inpainter cannot
        PHANESConfig(size=32)
    with pytest.raises(InputError, match="across_batch.*true or false"):
        PHANESConfig(across_batch=1)
