"""Stand-ins for the published networks (methods/pretrained.py FILES): random weights of the same
shapes, saved into a cache folder and registered under their keys with matching sha256 and size, so
a paper method trains and scores in tests without the internet (the variants need none)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from patch2loc.methods import pretrained

LPIPS_CHANNELS = (64, 128, 256, 384, 384, 512, 512)  # SqueezeNet 1.1's seven LPIPS layers


def random_state(key: str) -> dict:
    """Random weights shaped as the published file `key` holds them (VGG-19: its features only,
    what PHANES reads)."""
    from torchvision import models

    if key == "lpips_squeeze":
        return {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(LPIPS_CHANNELS)}
    if key == "vgg19":
        return {"features." + k: v for k, v in models.vgg19(weights=None).features.state_dict().items()}
    return getattr(models, key)(weights=None).state_dict()


def fake_published(keys, home: Path, monkeypatch, seed: int = 7) -> dict[str, dict]:
    """{key: state} of random 'published' files written into `home`, pretrained.FILES pointing at them."""
    torch.manual_seed(seed)
    home.mkdir(parents=True, exist_ok=True)
    states = {}
    for key in keys:
        states[key] = random_state(key)
        path = home / f"{key}.pth"
        torch.save(states[key], path)
        data = path.read_bytes()
        spec = pretrained.WeightsFile(
            path.name, "https://example.invalid/" + path.name, hashlib.sha256(data).hexdigest(), len(data)
        )
        monkeypatch.setitem(pretrained.FILES, key, spec)
    return states
