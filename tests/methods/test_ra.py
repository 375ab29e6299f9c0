"""RA (docs/ra.md): the network's size against the reference's, the losses and the map against their
definitions, LPIPS against the lpips package, the augmentation's geometry. Training and scoring:
test_ra_training.py."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage.exposure import equalize_adapthist

from patch2loc.networks.lpips import SqueezeLPIPS, saliency
from patch2loc.methods.ra import losses
from patch2loc.methods.ra.augment import sampling_matrices
from patch2loc.methods.ra.model import SoftIntroVAE, parameter_count
from patch2loc.methods.ra.score import ra_map

REPO = Path(__file__).resolve().parents[2]
TINY = dict(steps=2, batch_size=2, lr=1e-3, size=32, width=2, zdim=8, val_every=1, val_batches=1)


def _block(i: int, o: int, expand: bool) -> int:
    """A residual block: [1x1 i->o] + 3x3 i->o + BN(o) + 3x3 o->o + BN(o) (ra.py l. 26-62)."""
    return (i * o if expand else 0) + 9 * i * o + 2 * o + 9 * o * o + 2 * o


def test_parameter_counts_are_the_reference_networks():
    """Counted from model_zoo/ra.py with ra.yaml's channels 64, 128, 256, 512, 512, zdim 128, 128 x 128
    slices; the YAML's distinct int objects give the 512 -> 512 transitions their 1x1 conv."""
    for yaml_quirk, total in ((True, 29_955_073), (False, 29_430_785)):
        stem = 25 * 64 + 2 * 64
        encoder = stem + _block(64, 128, True) + _block(128, 256, True) + _block(256, 512, True)
        encoder += _block(512, 512, yaml_quirk) + _block(512, 512, False) + (8192 * 256 + 256)
        decoder = (128 * 8192 + 8192) + _block(512, 512, False) + _block(512, 512, yaml_quirk)
        decoder += _block(512, 256, True) + _block(256, 128, True) + _block(128, 64, True) + _block(64, 64, False)
        decoder += 25 * 64 + 1
        assert encoder + decoder == total
        model = SoftIntroVAE(expand_transitions=yaml_quirk)
        assert parameter_count(model.encoder) == encoder and parameter_count(model.decoder) == decoder
        assert parameter_count(model) == total
    assert parameter_count(SoftIntroVAE()) - parameter_count(SoftIntroVAE(expand_transitions=False)) == 2 * 512 * 512
    rec, mu, logvar, z, embeddings = SoftIntroVAE().eval()(torch.rand(2, 1, 128, 128), torch.Generator().manual_seed(0))
    assert rec.shape == (2, 1, 128, 128) and mu.shape == logvar.shape == z.shape == (2, 128)
    assert [tuple(e.shape[1:]) for e in embeddings] == [
        (64, 64, 64),
        (128, 32, 32),
        (256, 16, 16),
        (512, 8, 8),
        (512, 4, 4),
    ]


def test_losses_are_the_reference_definitions_on_crafted_tensors():
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g)
    mu, logvar = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    xn, yn, mun, lvn = (t.double().numpy() for t in (x, y, mu, logvar))
    sse = ((yn - xn) ** 2).reshape(3, -1).sum(1)
    kl = np.array(
        [-0.5 * sum(1 + lvn[b, j] - math.exp(lvn[b, j]) - mun[b, j] ** 2 for j in range(5)) for b in range(3)]
    )
    np.testing.assert_allclose(losses.sse(x, y).numpy(), sse, rtol=1e-6)
    np.testing.assert_allclose(losses.kl_to_prior(mu, logvar).numpy(), kl, rtol=1e-5)

    a = [torch.randn(3, 2, 4, 4, generator=g), torch.randn(3, 4, 2, 2, generator=g)]
    b = [torch.randn(3, 2, 4, 4, generator=g), torch.randn(3, 4, 2, 2, generator=g)]
    expected = 0.0
    for p, q in zip(a, b):
        p, q = p.double().numpy().reshape(3, -1), q.double().numpy().reshape(3, -1)
        cosine = (p * q).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(q, axis=1))
        expected += 0.5 * ((p - q) ** 2).mean() + (1 - cosine).mean()
    emb = losses.embedding_loss(a, b)
    assert emb.item() == pytest.approx(expected, rel=1e-5)

    s, terms = 1 / 128**2, [torch.rand(3, generator=g) * 5000 for _ in range(6)]
    t = [v.double().numpy() for v in terms]

    def expelbo(e, k):
        return np.mean(np.exp(-2 * s * (0.5 * e + 128.0 * k)))

    want_e = s * (0.5 * t[0].mean() + 1.0 * t[1].mean()) + 0.25 * (expelbo(t[2], t[3]) + expelbo(t[4], t[5]))
    want_e += 0.005 * expected
    got_e = losses.encoder_loss(s, losses.WEIGHTS, terms[0:2], terms[2:4], terms[4:6], emb)
    assert got_e.item() == pytest.approx(want_e, rel=1e-5)
    want_d = s * (
        0.5 * t[0].mean() + 0.5 * 1.0 * (t[1].mean() + t[2].mean()) + 1e-8 * 0.5 * 0.5 * (t[3].mean() + t[4].mean())
    )
    got_d = losses.decoder_loss(s, losses.WEIGHTS, terms[0], (terms[1], terms[2]), (terms[3], terms[4]))
    assert got_d.item() == pytest.approx(want_d, rel=1e-6)
    assert losses.scale_of(128) == 1 / 16384


def test_each_step_updates_only_its_half():
    vae, g = SoftIntroVAE(1, 4, (2, 4, 8, 8, 8), 32), torch.Generator().manual_seed(0)
    x, noise = torch.rand(2, 1, 32, 32), torch.randn(2, 4)
    losses.train_part(vae, "encoder")
    loss, z = losses.encoder_objective(vae, x, noise, g, 1 / 32**2)
    loss.backward()
    assert all(p.grad is not None for p in vae.encoder.parameters())
    assert all(p.grad is None for p in vae.decoder.parameters())
    vae.zero_grad(set_to_none=True)
    losses.train_part(vae, "decoder")
    loss, rec = losses.decoder_objective(vae, x, z, noise, g, 1 / 32**2)
    loss.backward()
    assert all(p.grad is None for p in vae.encoder.parameters()) and rec.shape == x.shape
    assert all(p.grad is not None for p in vae.decoder.parameters())


def _lpips_pair():
    """The lpips package's network (random trunk, its published heads) and ours with the same weights."""
    import lpips

    torch.manual_seed(0)  # the random trunk: the same network whatever ran before
    theirs = lpips.LPIPS(net="squeeze", pretrained=True, pnet_rand=True, spatial=True, verbose=False).eval()
    ours = SqueezeLPIPS().eval()
    trunk = {}
    for k, v in theirs.net.state_dict().items():  # slice{s}.{index}.rest -> features.{index}.rest
        trunk["features." + k.split(".", 1)[1]] = v
    ours.load_trunk(trunk)
    heads = Path(lpips.__file__).parent / "weights" / "v0.1" / "squeeze.pth"
    ours.load_heads(torch.load(heads, map_location="cpu", weights_only=True))
    return theirs, ours


def test_lpips_spatial_map_is_the_packages():
    theirs, ours = _lpips_pair()
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2, 1, 64, 64, generator=g), torch.rand(2, 1, 64, 64, generator=g)
    with torch.no_grad():
        want = theirs(a, b, normalize=True)
        got = ours(a, b, normalize=True)
    assert got.shape == want.shape == (2, 1, 64, 64) and want.abs().max() > 0
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    smooth = np.stack([gaussian_filter(want[i : i + 1].numpy(), sigma=2)[0, 0] for i in range(2)])  # reference: 4-D
    np.testing.assert_allclose(saliency(ours, a, b), smooth, rtol=1e-5, atol=1e-6)


def test_the_map_is_clahe_residual_times_both_saliencies():
    """A crafted slice (a disc with a bright spot) and a reconstruction without the spot."""
    theirs, ours = _lpips_pair()
    yy, xx = np.mgrid[:64, :64]
    disc = ((yy - 32) ** 2 + (xx - 32) ** 2 < 24**2) * (0.5 + 0.2 * np.sin(xx / 5.0))
    rec = disc.astype(np.float32)
    x = rec.copy()
    x[20:26, 30:36] = 1.3  # above 1: clipped as the reference's clamp
    xt, rt = torch.from_numpy(x)[None, None], torch.from_numpy(rec)[None, None]
    cx, cr = equalize_adapthist(np.clip(x, 0, 1)), equalize_adapthist(rec)
    with torch.no_grad():
        s1 = gaussian_filter(theirs(rt, xt.clamp(0, 1), normalize=True).numpy(), sigma=2)[0, 0]
        s2 = gaussian_filter(
            theirs(torch.tensor(cr)[None, None], torch.tensor(cx)[None, None], normalize=True).numpy(), sigma=2
        )[0, 0]
    residual = np.abs(cr - cx)
    got = ra_map(ours, xt, rt)[0, 0].numpy()
    np.testing.assert_allclose(got, residual * s1 * s2, rtol=1e-4, atol=1e-7)
    assert got[20:26, 30:36].mean() > 3 * got[40:50, 20:30].mean()  # the spot stands out
    variant = ra_map(None, xt, rt)[0, 0].numpy()  # the offline variant: the CLAHE residual alone
    np.testing.assert_allclose(variant, residual, atol=1e-6)


def test_augmentation_geometry():
    """Identity, a quarter turn, a one-pixel shift and a flip move pixels exactly as they should."""
    x = torch.arange(16.0).view(1, 1, 4, 4)

    def moved(angle=0.0, dx=0.0, dy=0.0, scale=1.0, flip=0.0):
        theta = sampling_matrices(torch.tensor([[angle, dx, dy, scale, flip]]), 4)
        grid = torch.nn.functional.affine_grid(theta, [1, 1, 4, 4], align_corners=False)
        return torch.nn.functional.grid_sample(x, grid, mode="nearest", align_corners=False)

    torch.testing.assert_close(moved(), x)
    torch.testing.assert_close(moved(flip=1.0), x.flip(-1))
    turned = moved(angle=math.pi / 2)
    assert torch.equal(turned, torch.rot90(x, 1, (2, 3))) or torch.equal(turned, torch.rot90(x, -1, (2, 3)))
    shifted = moved(dx=1.0)
    torch.testing.assert_close(shifted[..., 1:], x[..., :-1])
    assert (shifted[..., 0] == 0).all()
