"""The published ImageNet networks that FAE, RA and PHANES build on, in one cache.

The workflow's rule `download_weights` (rules/pretrained.smk, a local rule: login nodes have the
internet) fetches each file once into `pretrained.home`, checked against the sha256 below
(`fetch_weights`); a training reads it from there (`state_dict`), checked again, its tensors too
against the file's key set recorded below (names and shapes; a BatchNorm counter may be missing,
as torch's strict load takes it: torchvision's older saves hold none). A trained model
holds the frozen layers it scores with (FAE's extractor, the LPIPS network of RA and PHANES), so
checkpoints and bundles need no cache. Each of the three has an offline variant (the registry's
`variant_of`: FAE-random, RA-noLPIPS, PHANES-noPretrained) that builds the same networks with
`weights: random`, without these files, under its own name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from patch2loc.errors import InputError

IMAGENET, RANDOM = "imagenet", "random"
# A training's `weights` (set by the method, recorded in its checkpoints): the paper's networks, or none
# (the offline variant's random initialisation).
WEIGHTS = (IMAGENET, RANDOM)
HOME = "data/pretrained"  # config pretrained.home: the cache the rule fills and trainings read


@dataclass(frozen=True)
class WeightsFile:
    file: str  # its name in the cache (torchvision's own, so a torch hub cache can be copied in)
    url: str
    sha256: str
    size: int  # bytes, as published
    # Its key set: the parameters and running statistics of `network` (a torchvision.models builder,
    # or HEADS_NETWORK), `tensors` of them, without BatchNorm's num_batches_tracked (`published_shapes`).
    network: str
    tensors: int


COUNTER = "num_batches_tracked"  # BatchNorm's step count, saved since torch 0.4.1; load_state_dict fills it in
HEADS_NETWORK = "lpips_heads"  # the LPIPS heads file's network: one 1x1 convolution per SqueezeNet layer
LPIPS_HEAD_CHANNELS = (64, 128, 256, 384, 384, 512, 512)  # SqueezeNet 1.1's seven LPIPS layers
TORCHVISION = "https://download.pytorch.org/models/"
LPIPS_HEADS = "https://raw.githubusercontent.com/richzhang/PerceptualSimilarity/v0.1.4/lpips/weights/v0.1/"
FILES = {
    # torchvision's ResNet-18 (IMAGENET1K_V1): FAE's feature extractor. An older save: its 102 tensors
    # and none of the 20 num_batches_tracked that resnet18().state_dict() holds today.
    "resnet18": WeightsFile(
        "resnet18-f37072fd.pth",
        TORCHVISION + "resnet18-f37072fd.pth",
        "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec",
        46830571,
        "resnet18",
        102,
    ),
    # torchvision's SqueezeNet 1.1: the trunk of LPIPS (net='squeeze'), RA's and PHANES' saliency.
    "squeezenet1_1": WeightsFile(
        "squeezenet1_1-b8a52dc0.pth",
        TORCHVISION + "squeezenet1_1-b8a52dc0.pth",
        "b8a52dc049b60e4b6ab68ad0df457362afab8b6304b2febdc1650a5dab4d7e7b",
        4958839,
        "squeezenet1_1",
        52,  # features and classifier; no batch norm
    ),
    # LPIPS v0.1's linear heads on SqueezeNet (the lpips 0.1.4 wheel ships the same file): seven
    # `lin{k}.model.1.weight` of shape (1, channels, 1, 1).
    "lpips_squeeze": WeightsFile(
        "lpips-v0.1-squeeze.pth",
        LPIPS_HEADS + "squeeze.pth",
        "4a5350f23600cb79923ce65bb07cbf57dca461329894153e05a1346bd531cf76",
        10811,
        HEADS_NETWORK,
        7,
    ),
    # torchvision's VGG-19: PHANES' inpainter's perceptual and style losses (training only).
    "vgg19": WeightsFile(
        "vgg19-dcbb9e9d.pth",
        TORCHVISION + "vgg19-dcbb9e9d.pth",
        "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
        574673361,
        "vgg19",
        38,  # features and classifier; no batch norm
    ),
}


def weights_path(key: str, home: str | Path = HOME) -> Path:
    return Path(home) / FILES[key].file


def check_weights_setting(value: str, block: str) -> str:
    """`value` if it is one of WEIGHTS (PHANES' VGG choice takes it as an argument); one line otherwise."""
    if value not in WEIGHTS:
        raise InputError(
            f"config {block}.weights: {value!r}; use {IMAGENET} (the paper's) or {RANDOM} (offline variant)."
        )
    return value


def check_variant(weights: str, method: str, paper: str) -> None:
    """`paper` (a registry name) trains only on the published networks, its offline variant only
    without them, so a checkpoint's method always says which it is (the registry's `variant_of`)."""
    want = IMAGENET if method == paper else RANDOM
    if weights != want:
        fix = (
            f"its offline variant is a method of its own (registry: variant_of {paper})"
            if method == paper
            else f"for the published networks list {paper} in `methods`"
        )
        raise InputError(f"{method} trains with weights {want}, not {weights!r}; {fix}.")


def verify(path: Path, key: str) -> None:
    """One line naming the file when it is not the published one (size first: no hashing of a wrong file)."""
    spec, size = FILES[key], path.stat().st_size
    if size != spec.size:
        raise InputError(
            f"{path}: {size} bytes, the published {spec.url} has {spec.size}; delete it and rerun download_weights."
        )
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != spec.sha256:
        raise InputError(
            f"{path}: sha256 {digest.hexdigest()} is not the published {spec.sha256} of {spec.url}; "
            "delete it and rerun download_weights."
        )


def network_shapes(key: str) -> dict[str, tuple[int, ...]]:
    """{name: shape} of every tensor of the network behind the file `key`, counters included (built on
    the meta device: nothing allocated)."""
    network = FILES[key].network
    if network == HEADS_NETWORK:
        return {f"lin{k}.model.1.weight": (1, c, 1, 1) for k, c in enumerate(LPIPS_HEAD_CHANNELS)}
    import torch
    from torchvision import models

    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in getattr(models, network)(weights=None).state_dict().items()}


def published_shapes(key: str) -> dict[str, tuple[int, ...]]:
    """{name: shape} of the tensors the published file `key` holds: its network's, no counters."""
    return {k: v for k, v in network_shapes(key).items() if k.rsplit(".", 1)[-1] != COUNTER}


def check_tensors(state, key: str, path: Path) -> None:
    """One line unless `state` holds the published file's tensors by name and shape, with or without
    each BatchNorm's counter: the forms a strict `load_state_dict` takes (it sets a missing counter
    to 0)."""
    whole = network_shapes(key)
    got = {k: tuple(getattr(v, "shape", ())) for k, v in state.items()} if isinstance(state, dict) else {}
    counters = {k for k in got if k.rsplit(".", 1)[-1] == COUNTER and whole.get(k) == got[k]}
    kept = {k: v for k, v in got.items() if k not in counters}
    want = published_shapes(key)
    if kept != want:
        odd = sorted(set(kept) ^ set(want)) or [k for k in want if kept[k] != want[k]]
        raise InputError(
            f"{path}: not the {FILES[key].network} weights of {FILES[key].url} (first differing tensor: "
            f"{str(odd[0])[:60]}); delete it and rerun download_weights."
        )


def state_dict(key: str, home: str | Path, block: str) -> dict:
    """The published weights `key` from the cache `home`, checked; one line when missing, altered or
    not the published file's tensors."""
    import pickle

    import torch

    path = weights_path(key, home)
    if not path.is_file():
        from patch2loc.registry import REGISTRY

        variants = [m.name for m in REGISTRY if m.config == block and m.variant_of] or ["its offline variant"]
        raise InputError(
            f"{path}: missing; fetch it with `snakemake download_weights` on a machine with the internet, "
            f"or list {variants[0]} in `methods` (the offline variant, no published networks)."
        )
    verify(path, key)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise InputError(
            f"{path}: not readable as a torch file ({(str(exc).splitlines() or [type(exc).__name__])[0][:80]}); "
            "delete it and rerun download_weights."
        ) from None
    check_tensors(state, key, path)
    return state


def fetch_weights(keys: list[str], home: str | Path, times: dict) -> list[Path]:
    """The files `keys` downloaded into `home` (those there only checked), each against its
    published sha256: a wrong file is removed with one line; `times` as data.download.fetch's."""
    from patch2loc.data.download import fetch

    home = Path(home)
    return [
        fetch(FILES[key].url, weights_path(key, home), home / "checksums.tsv", expected=FILES[key].sha256,
              pinned_by="src/patch2loc/networks/pretrained.py", **times)
        for key in keys
    ]  # fmt: skip
