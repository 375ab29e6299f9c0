"""The published files' key sets (networks/pretrained.py FILES): each file as published (torchvision's
older saves hold no BatchNorm counter) loads into the network that reads it, as torch's own strict
load takes it; a file of other tensors or not a torch file is refused in one line naming it."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch
from torchvision import models

from patch2loc.errors import InputError
from patch2loc.networks import pretrained
from patch2loc.methods.fae.model import FAE
from patch2loc.methods.fae.train import FAEConfig, backbone_state
from patch2loc.networks.lpips import published_lpips
from patch2loc.methods.phanes.losses import vgg_for
from tests.helpers.published import fake_published, publish, random_state

TORCHVISION_KEYS = [k for k, spec in pretrained.FILES.items() if spec.network != pretrained.HEADS_NETWORK]


def _hollow(shapes: dict) -> dict:
    """Zeros of the given shapes, one stored number each: a file of any network's names, a few kB."""
    return {k: torch.zeros(()).expand(shape) for k, shape in shapes.items()}


@pytest.mark.parametrize("key", list(pretrained.FILES))
def test_the_recorded_key_set_is_the_networks_without_counters_and_the_stand_ins_hold_it(key):
    spec, shapes = pretrained.FILES[key], pretrained.published_shapes(key)
    assert len(shapes) == spec.tensors
    assert not any(k.endswith("num_batches_tracked") for k in shapes)
    state = random_state(key)
    assert {k: tuple(v.shape) for k, v in state.items()} == shapes


def test_the_lpips_heads_key_set_is_the_wheels_file():
    """The lpips 0.1.4 wheel ships the published heads file itself (test_pretrained.py: same sha256)."""
    lpips = pytest.importorskip("lpips")
    from pathlib import Path

    shipped = Path(lpips.__file__).parent / "weights" / "v0.1" / "squeeze.pth"
    state = torch.load(shipped, map_location="cpu", weights_only=True)
    assert {k: tuple(v.shape) for k, v in state.items()} == pretrained.published_shapes("lpips_squeeze")
    pretrained.check_tensors(state, "lpips_squeeze", shipped)


@pytest.mark.parametrize("key", TORCHVISION_KEYS)
def test_torch_takes_the_published_key_set_in_a_strict_load(key):
    """The fact the check follows: a file without counters loads into torchvision's network."""
    net = getattr(models, pretrained.FILES[key].network)(weights=None)
    net.load_state_dict(random_state(key))  # strict: any missing or unexpected name raises
    counters = [b for name, b in net.named_buffers() if name.endswith("num_batches_tracked")]
    assert len(counters) == len(net.state_dict()) - pretrained.FILES[key].tensors
    assert all(int(c) == 0 for c in counters)


def test_resnet18_as_published_is_fae_s_extractor(tmp_path, monkeypatch):
    """torchvision's published ResNet-18 file holds 102 tensors, no num_batches_tracked: FAE reads it."""
    states = fake_published(["resnet18"], tmp_path, monkeypatch)
    assert len(states["resnet18"]) == 102
    state = backbone_state(FAEConfig(method="FAE", pretrained_home=str(tmp_path)))
    model = FAE(32, [4, 4], 0.1, state)
    assert torch.equal(model.extractor.layer0[0].weight, states["resnet18"]["conv1.weight"])
    assert torch.equal(model.extractor.layer2[0].bn1.running_var, states["resnet18"]["layer2.0.bn1.running_var"])
    assert int(model.extractor.layer0[1].num_batches_tracked) == 0


def test_squeezenet_and_the_lpips_heads_as_published_are_the_lpips_network(tmp_path, monkeypatch):
    states = fake_published(["squeezenet1_1", "lpips_squeeze"], tmp_path, monkeypatch)
    net = published_lpips(str(tmp_path), "ra")
    assert torch.equal(net.features[0].weight, states["squeezenet1_1"]["features.0.weight"])
    assert torch.equal(net.heads[6].weight, states["lpips_squeeze"]["lin6.model.1.weight"])


def test_vgg19_as_published_is_phanes_perceptual_network(tmp_path, monkeypatch):
    states = fake_published(["vgg19"], tmp_path, monkeypatch)
    assert {k.split(".")[0] for k in states["vgg19"]} == {"features", "classifier"}
    vgg = vgg_for("imagenet", tmp_path, "phanes")
    assert torch.equal(vgg.features[34].weight, states["vgg19"]["features.34.weight"])


def test_a_save_with_the_counters_is_taken_too(tmp_path, monkeypatch):
    """What torch.save of a ResNet-18 writes today (122 tensors) is the same weights: read alike."""
    torch.manual_seed(3)
    state = models.resnet18(weights=None).state_dict()
    assert len(state) == 122
    publish("resnet18", state, tmp_path, monkeypatch)
    got = pretrained.state_dict("resnet18", tmp_path, "fae")
    assert got.keys() == state.keys()
    partial = {k: v for k, v in state.items() if k != "bn1.num_batches_tracked"}  # torch takes any subset
    publish("resnet18", partial, tmp_path, monkeypatch)
    assert pretrained.state_dict("resnet18", tmp_path, "fae").keys() == partial.keys()


def _other_files() -> list:
    """(key, state, the name the refusal names) of files that are not the published tensors."""
    resnet = pretrained.published_shapes("resnet18")
    heads = pretrained.published_shapes("lpips_squeeze")
    squeeze = pretrained.published_shapes("squeezenet1_1")
    with torch.device("meta"):
        resnet34 = {k: tuple(v.shape) for k, v in models.resnet34(weights=None).state_dict().items()}
    return [
        ("resnet18", _hollow(resnet34), "layer1.2.bn1.bias"),  # another network
        ("resnet18", _hollow({**resnet, "fc.weight": (10, 512)}), "fc.weight"),  # a shape
        ("resnet18", _hollow({k: v for k, v in resnet.items() if k != "bn1.weight"}), "bn1.weight"),  # a tensor short
        ("resnet18", _hollow({**resnet, "bn1.num_batches_tracked": (2,)}), "bn1.num_batches_tracked"),  # no counter
        ("squeezenet1_1", _hollow({**squeeze, "features.0.num_batches_tracked": ()}), "features.0.num_batches"),
        ("lpips_squeeze", _hollow({k.replace("lin", "lin_"): v for k, v in heads.items()}), "lin0.model.1.weight"),
        ("vgg19", _hollow(pretrained.published_shapes("squeezenet1_1")), "classifier.0.bias"),
        ("vgg19", torch.zeros(3), "classifier.0.bias"),  # a tensor, not a state dict
    ]


@pytest.mark.parametrize("case", range(len(_other_files())))
def test_a_file_of_other_tensors_is_refused_in_one_line(tmp_path, monkeypatch, case):
    key, state, named = _other_files()[case]
    path = publish(key, state, tmp_path, monkeypatch)
    with pytest.raises(InputError) as err:
        pretrained.state_dict(key, tmp_path, "fae")
    said = str(err.value)
    assert "\n" not in said and said.startswith(f"{path}: not the {pretrained.FILES[key].network} weights")
    assert f"first differing tensor: {named}" in said and "rerun download_weights" in said


def test_a_file_that_is_no_torch_file_is_refused_in_one_line(tmp_path, monkeypatch):
    path = publish("lpips_squeeze", random_state("lpips_squeeze"), tmp_path, monkeypatch)
    cut = path.read_bytes()[:-200]
    path.write_bytes(cut)  # cut short, and registered as the published file: past the sha256
    spec = dataclasses.replace(pretrained.FILES["lpips_squeeze"], sha256=hashlib.sha256(cut).hexdigest(), size=len(cut))
    monkeypatch.setitem(pretrained.FILES, "lpips_squeeze", spec)
    with pytest.raises(InputError) as err:
        pretrained.state_dict("lpips_squeeze", tmp_path, "ra")
    said = str(err.value)
    assert (
        "\n" not in said
        and said.startswith(f"{path}: not readable as a torch file")
        and "rerun download_weights" in said
    )
