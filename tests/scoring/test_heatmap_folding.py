"""The dense scoring's inference network (heatmap/inference.py): BatchNorm folded into the layers
before it gives the trained network's maps; fp32 keeps the trained network itself."""

import numpy as np
import pytest
import torch

from patch2loc.methods.patch2loc.heatmap import score_volume
from patch2loc.methods.patch2loc.heatmap.inference import ENGINES, folded, prepare
from patch2loc.methods.patch2loc.model import Patch2LocNet


@pytest.fixture(scope="module")
def model():
    """A small network whose BatchNorms hold statistics far from the identity (a folding that drops
    the shift or the scale shows at once)."""
    torch.manual_seed(0)
    net = Patch2LocNet(8)
    with torch.no_grad():
        for bn in (m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    return net.eval()


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    volume = rng.random((24, 24, 6)).astype(np.float32)
    mask = np.zeros(volume.shape, bool)
    mask[4:20, 4:20, 1:5] = True
    return volume, mask


def test_folding_removes_every_batchnorm_and_leaves_the_model_as_it_was(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    net = folded(model, torch.float32)
    assert not [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("engine", ["folded", "folded-untrimmed"])
def test_folded_fp32_gives_the_trained_networks_map(model, case, engine):
    volume, mask = case
    plain = score_volume(model, volume, mask, amp="none", engine="plain", device="cpu")
    got = score_volume(model, volume, mask, amp="none", engine=engine, device="cpu")
    assert np.allclose(got.score, plain.score, rtol=1e-5, atol=1e-4)
    assert np.allclose(got.log_variance, plain.log_variance, rtol=1e-5, atol=1e-4)


def test_folded_bf16_stays_within_bf16s_own_distance_from_fp32(model, case):
    volume, mask = case
    fp32 = score_volume(model, volume, mask, amp="none", device="cpu").score[mask]
    autocast = score_volume(model, volume, mask, amp="bf16", engine="plain", device="cpu").score[mask]
    fold = score_volume(model, volume, mask, amp="bf16", engine="folded", device="cpu").score[mask]
    own = np.abs(autocast - fp32).max()
    assert own > 0  # bf16 does round: the comparison below means something
    assert np.abs(fold - fp32).max() <= 4 * own


def test_fp32_scores_with_the_trained_network_itself(model, case):
    volume, mask = case
    prepared = prepare(model, torch.device("cpu"), None)
    assert prepared.net is model and prepared.autocast is None
    auto = score_volume(model, volume, mask, amp="none", device="cpu")
    plain = score_volume(model, volume, mask, amp="none", engine="plain", device="cpu")
    assert np.array_equal(auto.score, plain.score)
    assert prepare(model, torch.device("cpu"), torch.bfloat16).net is model  # auto: the network as trained
    assert prepare(model, torch.device("cpu"), torch.bfloat16, "folded").input_dtype == torch.bfloat16


def test_an_unknown_engine_is_refused(model, case):
    with pytest.raises(ValueError, match="engine must be one of"):
        score_volume(model, *case, engine="fast", device="cpu")
    assert "auto" in ENGINES


def test_a_last_batch_filled_up_to_the_fixed_shape_gives_the_same_map(model, case, monkeypatch):
    from patch2loc.methods.patch2loc.heatmap import engine

    volume, mask = case
    want = score_volume(model, volume, mask, amp="none", batch_size=300, device="cpu")
    shapes = []
    original = engine.forward
    monkeypatch.setattr(engine, "fixed_batch", lambda device, batch: batch)  # the GPU's rule, here
    monkeypatch.setattr(
        engine, "forward", lambda p, patches, pos: shapes.append(len(patches)) or original(p, patches, pos)
    )
    got = score_volume(model, volume, mask, amp="none", batch_size=300, device="cpu")
    assert set(shapes) == {300} and want.n_patches % 300  # a short last batch was filled up
    np.testing.assert_allclose(got.score, want.score, rtol=1e-6, atol=1e-5)
