"""Stand-ins for the published networks (networks/pretrained.py FILES): random weights in each
published file's key set (its network's tensors, no BatchNorm counters), saved into a cache folder
and registered under their keys with matching sha256 and size, so a paper method trains and scores
in tests without the internet (the variants need none)."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import torch

from patch2loc.networks import pretrained


def random_state(key: str) -> dict:
    """Random weights named and shaped as the published file `key` holds them. VGG-19's classifier,
    which nothing reads, is one number broadcast to each tensor's shape: the file stays small."""
    from torchvision import models

    if key == "lpips_squeeze":
        return {name: torch.rand(shape) for name, shape in pretrained.published_shapes(key).items()}
    kept = pretrained.published_shapes(key)
    if key == "vgg19":
        return _vgg19_state(models.vgg, kept)
    # keep_vars: weights as Parameters and statistics as tensors, as torchvision's files pickle them
    state = getattr(models, pretrained.FILES[key].network)(weights=None).state_dict(keep_vars=True)
    return {k: v for k, v in state.items() if k in kept}


def _vgg19_state(vgg, shapes: dict) -> dict:
    """VGG-19's features initialised as torchvision initialises them, and its classifier as one random
    number per tensor, broadcast (torch.save writes the one-number storage): building the whole
    network would initialise the classifier's 120M parameters (seconds) only to discard them."""
    features = vgg.make_layers(vgg.cfgs["E"])
    for layer in features:
        if isinstance(layer, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            torch.nn.init.zeros_(layer.bias)
    state = {f"features.{k}": v for k, v in features.state_dict(keep_vars=True).items()}
    state.update({k: torch.rand(1).expand(shape) for k, shape in shapes.items() if k.startswith("classifier.")})
    return {k: state[k] for k in shapes}


def publish(key: str, state: dict, home: Path, monkeypatch, name: str | None = None) -> Path:
    """`state` saved in `home` and registered as `key`'s published file (its key set kept)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / (name or f"{key}.pth")
    torch.save(state, path)
    data = path.read_bytes()
    spec = dataclasses.replace(
        pretrained.FILES[key],
        file=path.name,
        url="https://example.invalid/" + path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    monkeypatch.setitem(pretrained.FILES, key, spec)
    return path


def fake_published(keys, home: Path, monkeypatch, seed: int = 7) -> dict[str, dict]:
    """{key: state} of random 'published' files written into `home`, pretrained.FILES pointing at them."""
    torch.manual_seed(seed)
    states = {}
    for key in keys:
        states[key] = random_state(key)
        publish(key, states[key], home, monkeypatch)
    return states
