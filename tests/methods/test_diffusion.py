"""DDPM, pDDPM, cDDPM (methods/diffusion): the reference's architecture, noise and schedule, the
patched reconstruction's context, and a model that learns to denoise a normal slice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patch2loc.methods.diffusion.encoder import ConditionEncoder, MaskedAutoencoder
from patch2loc.methods.diffusion.model import DiffusionModel, box_masks, reconstruct
from patch2loc.methods.diffusion.schedule import cosine_alpha_bar
from patch2loc.methods.diffusion.simplex import opensimplex2d, simplex_noise
from patch2loc.methods.diffusion.unet import DiffusionUNet


# ---------------------------------------------------------------- parameter counts
def _resblock(c_in: int, c_out: int, emb: int) -> int:
    """The reference's ResBlock (OpenAI UNet, use_scale_shift_norm): GroupNorm(c_in), 3x3 conv,
    Linear(emb -> 2 c_out), GroupNorm(c_out), 3x3 conv, 1x1 skip conv when the width changes."""
    skip = c_in * c_out + c_out if c_in != c_out else 0
    return (
        2 * c_in + 9 * c_in * c_out + c_out + emb * 2 * c_out + 2 * c_out + 2 * c_out + 9 * c_out * c_out + c_out + skip
    )


def reference_unet_parameters(mc: int = 128, mults=(1, 2, 2), blocks: int = 3, cond_dim: int | None = None) -> int:
    """Parameters of the reference's UNetModel (src/models/modules/OpenAI_Unet.py) as DDPM_2D builds it:
    in/out 1 channel, resblock_updown, attention only in the middle block (its attention_resolutions
    3, 6, 12 are never reached at downsampling 1, 2, 4), time_embed Linear(mc, 4mc) SiLU Linear(4mc, 4mc);
    with a condition (num_classes = cond_dim): label_emb Linear(cond_dim, 4mc) SiLU Linear(4mc, 4mc)
    and the blocks' embedding is 8mc wide. Counted here from that description, not from our module."""
    emb = 4 * mc
    total = (mc * emb + emb) + (emb * emb + emb)  # time_embed
    if cond_dim:
        total += (cond_dim * emb + emb) + (emb * emb + emb)  # label_emb
        emb *= 2
    total += 9 * 1 * mc + mc  # first conv
    chans, ch = [mc], mc
    for level, mult in enumerate(mults):
        for _ in range(blocks):
            total += _resblock(ch, mc * mult, emb)
            ch = mc * mult
            chans.append(ch)
        if level < len(mults) - 1:
            total += _resblock(ch, ch, emb)  # downsampling ResBlock
            chans.append(ch)
    attention = 2 * ch + (3 * ch * ch + 3 * ch) + (ch * ch + ch)  # GroupNorm, qkv, proj
    total += 2 * _resblock(ch, ch, emb) + attention
    for level, mult in reversed(list(enumerate(mults))):
        for i in range(blocks + 1):
            total += _resblock(ch + chans.pop(), mc * mult, emb)
            ch = mc * mult
            if level and i == blocks:
                total += _resblock(ch, ch, emb)  # upsampling ResBlock
    return total + 2 * ch + 9 * ch + 1  # GroupNorm, SiLU, 3x3 conv to one channel


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_unet_has_the_reference_architectures_parameter_count():
    # unet_dim 128, dim_mults [1, 2, 2], 3 residual blocks per level (configs/experiment/cDDPM/DDPM.yaml)
    assert reference_unet_parameters() == 37_513_857
    assert count(DiffusionUNet(128, (1, 2, 2), 3)) == 37_513_857
    # cDDPM: condition of 4 x 128 = 512 values (DDPM_2D sets cond_dim = unet_dim * 4)
    assert reference_unet_parameters(cond_dim=512) == 44_068_481
    assert count(DiffusionUNet(128, (1, 2, 2), 3, cond_dim=512)) == 44_068_481
    # the demo's width 16 and 2 blocks: the same formula
    assert count(DiffusionUNet(16, (1, 2, 2), 2)) == reference_unet_parameters(16, (1, 2, 2), 2)


def test_encoder_and_pretraining_have_the_reference_parameter_counts():
    # ResNet-50 (25,557,032 with 3 input channels and 1,000 classes) with 1 input channel (-2 x 64 x 7 x 7),
    # no linear layer; the cDDPM's encoder adds a 2048 -> 512 one (timm's resnet50, num_classes=cond_dim)
    resnet50 = 25_557_032 - 2 * 64 * 49 - (2048 * 1000 + 1000)
    assert count(ConditionEncoder("resnet50", 512)) == resnet50 + 2048 * 512 + 512 == 24_550_848
    assert count(DiffusionModel(encoder="resnet50")) == 44_068_481 + 24_550_848
    # SparK (Spark_2D.yaml: dec_dim 512, pyramid 4, en_de_norm bn, en_de_lin, double, hea [0, 1], cmid 0)
    widths, dec = (2048, 1024, 512, 256), (512, 256, 128, 64)
    norms_tokens = sum(3 * c for c in widths)  # BatchNorm (2c) and a mask token (c) per stage
    projections = 2048 * 512 + 512 + sum(9 * c * d + d for c, d in zip(widths[1:], dec[1:]))
    chans = [512 // 2**i for i in range(6)]
    decoder = sum(16 * a * a + a + 9 * a * a + 2 * a + 9 * a * b + 2 * b for a, b in zip(chans[:-1], chans[1:]))
    spark = resnet50 + norms_tokens + projections + decoder + 16 + 1  # the ResNet without its linear layer
    assert count(MaskedAutoencoder("resnet50", 512)) == spark == 37_964_305


# ---------------------------------------------------------------- noise and schedule
def test_opensimplex_matches_the_reference_algorithm():
    # Values of the opensimplex package's noise2 (the 2014 algorithm the reference's generate_noise.py
    # uses) for the permutation (37 i + 11) mod 256, computed once with opensimplex 0.4.5.
    perm = torch.tensor([(37 * i + 11) % 256 for i in range(256)])
    points = [(0.3, 0.7), (1.5, -2.25), (10.1, 3.3), (-4.2, 7.9), (0.0, 0.0), (25.5, 12.125)]
    expected = [-0.066082600023, 0.288050200578, -0.436192069151, 0.004498924517, 0.0, -0.711960424783]
    x, y = (torch.tensor(v, dtype=torch.float64) for v in zip(*points))
    np.testing.assert_allclose(opensimplex2d(x, y, perm).numpy(), expected, atol=1e-10)


def test_simplex_noise_octaves_batch_and_determinism():
    g = torch.Generator().manual_seed(0)
    shared = simplex_noise(3, 40, 48, g)
    assert shared.shape == (3, 1, 40, 48) and torch.equal(shared[0], shared[2])  # one field per batch
    own = simplex_noise(3, 40, 48, g, per_slice=True)
    assert not torch.equal(own[0], own[1])
    again = simplex_noise(3, 40, 48, torch.Generator().manual_seed(0))
    assert torch.equal(again, shared)
    one = simplex_noise(1, 64, 64, torch.Generator().manual_seed(1), octaves=1, frequency=8.0)
    six = simplex_noise(1, 64, 64, torch.Generator().manual_seed(1), octaves=6, frequency=64.0)
    assert 0.2 < float(one.std()) < 0.5 and float(one.abs().max()) <= 1.0  # one octave: about [-1, 1]
    # the finest octave of six (wavelength 2 pixels) adds pixel-to-pixel variation to the smooth first one
    smooth = simplex_noise(1, 64, 64, torch.Generator().manual_seed(1), octaves=1, frequency=64.0)
    assert six.diff(dim=-1).abs().mean() > 2 * smooth.diff(dim=-1).abs().mean()


def test_cosine_schedule_halves_the_signal_near_the_test_step():
    ab = cosine_alpha_bar(1000)
    assert ab.shape == (1000,) and torch.all(ab[1:] < ab[:-1]) and ab[0] > 0.999 and ab[-1] < 1e-4
    assert 0.45 < float(ab[499]) < 0.55  # step 500 of 1,000: about half signal, half noise


# ---------------------------------------------------------------- patched reconstruction
def _random_head(model: DiffusionModel) -> DiffusionModel:
    """Untrained, the UNet's zero-initialised last layer outputs 0 everywhere; make it output something."""
    torch.manual_seed(0)
    for p in model.unet.head.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return model.eval()


def test_patched_prediction_leaves_the_context_unchanged():
    model = _random_head(DiffusionModel(width=8, blocks=1, patch_size=12))
    clean = torch.rand(2, 1, 32, 32)
    assert model.boxes(32, 32)[:3] == [(0, 12, 0, 12), (0, 12, 12, 24), (0, 12, 24, 32)]  # cut at the border
    box = box_masks(model, torch.tensor([0, 4]), 32, 32)
    t = torch.tensor([499, 499])
    noise = simplex_noise(2, 32, 32, torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model.predict(clean, t, noise, box)
        whole = model.predict(clean, t, noise)
    outside = ~box[:, None]
    assert torch.equal(out[outside], clean[outside])  # outside the square: the input, bit for bit
    assert not torch.allclose(out[~outside], clean[~outside])  # inside: the network's prediction
    assert not torch.allclose(whole[outside], clean[outside])  # the unpatched DDPM changes every pixel


def test_patched_reconstruction_stitches_each_square_from_its_own_prediction():
    model = _random_head(DiffusionModel(width=8, blocks=1, patch_size=16))
    clean = torch.rand(1, 1, 32, 32)
    reco = reconstruct(model, clean, (500,), torch.Generator().manual_seed(3), 6, 0.8, 16.0)
    noise = simplex_noise(1, 32, 32, torch.Generator().manual_seed(3), frequency=16.0)
    t = torch.tensor([499])
    with torch.no_grad():
        for k, (r0, r1, c0, c1) in enumerate(model.boxes(32, 32)):
            own = model.predict(clean, t, noise, box_masks(model, torch.tensor([k]), 32, 32))
            torch.testing.assert_close(reco[..., r0:r1, c0:c1], own[..., r0:r1, c0:c1])


# ---------------------------------------------------------------- a model that learns
def normal_slices(n: int, side: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth synthetic 'brains': an ellipse of tissue (0.6) with a brighter core (0.9), randomly
    shifted, on a zero background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side] / side - 0.5
    out = np.zeros((n, side, side), np.float32)
    for i in range(n):
        dy, dx = rng.uniform(-0.05, 0.05, 2)
        r = ((yy - dy) / 0.42) ** 2 + ((xx - dx) / 0.35) ** 2
        out[i] = 0.6 * (r < 1) + 0.3 * (r < 0.3)
    return out


@pytest.fixture()
def one_thread():
    """One torch thread: tiny layers on a shared machine run slower on two (about 0.15 s per step here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_a_briefly_trained_ddpm_reconstructs_a_normal_slice_better_than_the_noised_input(one_thread):
    from patch2loc.methods.diffusion.train import DiffusionConfig, DiffusionTask
    from patch2loc.training.training_data import TrainingData

    torch.manual_seed(0)
    vol = normal_slices(24).transpose(1, 2, 0)[None]  # [1, X, Y, Z]: 24 axial slices
    data = TrainingData(vol, vol > 0, vol, vol > 0, {"train": ["a"], "val": ["b"]}, (6.0, 6.0, 6.0))
    cfg = DiffusionConfig(steps=80, batch_size=8, lr=2e-3, width=16, blocks=1, rescale=1, val_batches=1, device="cpu")
    task = DiffusionTask(data, cfg, frequency=16.0, device=torch.device("cpu"))
    clean = torch.from_numpy(normal_slices(4, seed=9)).unsqueeze(1)  # unseen normal slices
    noise = simplex_noise(4, 32, 32, torch.Generator().manual_seed(5), frequency=16.0)
    t = torch.full((4,), 499)

    def error() -> float:
        with torch.no_grad():
            return float((task.model.eval().predict(clean, t, noise) - clean).abs().mean())

    before = error()
    for step in range(cfg.steps):
        task.model.train()
        task.train_step(step)
    after = error()
    from patch2loc.methods.diffusion.schedule import from_model_range, noised, to_model_range

    noised_input = float(
        (from_model_range(noised(to_model_range(clean), t, noise, task.model.alpha_bar)) - clean).abs().mean()
    )
    assert after < noised_input, (after, noised_input)
    assert after < 0.5 * before, (after, before)


def test_the_registry_names_the_pretraining_its_checkpoints_record():
    from patch2loc.registry import METHODS
    from patch2loc.methods.diffusion.encoder import PRETRAINED
    from patch2loc.methods.diffusion.pretrain import PretrainTask

    assert METHODS["cDDPM"].pretrain.name == PRETRAINED == PretrainTask.method
    assert METHODS["cDDPM"].pretrain.models not in {m.models for m in METHODS.values()}  # its own folder
