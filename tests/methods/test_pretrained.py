"""The published networks' cache (networks/pretrained.py): what rule download_weights fetches and
the trainings read. A file that is not the published one is refused with one line, never used."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from patch2loc.errors import InputError
from patch2loc.networks import pretrained
from patch2loc.networks.pretrained import FILES, fetch_weights, state_dict, weights_path
from tests.helpers.published import random_state

TIMES = {"timeout": 5.0, "deadline": 30.0}


KEY = "lpips_squeeze"  # the smallest published file


def _published(tmp_path, monkeypatch, key=KEY) -> dict:
    """A stand-in in the published key set served from a file:// URL and registered as `key`'s file."""
    weights = random_state(key)
    served = tmp_path / "server" / "net.pth"
    served.parent.mkdir()
    torch.save(weights, served)
    data = served.read_bytes()
    spec = dataclasses.replace(
        FILES[key], file="net.pth", url=served.as_uri(), sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    monkeypatch.setitem(FILES, key, spec)
    return weights


def test_a_published_file_is_fetched_checked_and_read(tmp_path, monkeypatch):
    weights = _published(tmp_path, monkeypatch)
    [path] = fetch_weights([KEY], tmp_path / "cache", TIMES)
    assert path == weights_path(KEY, tmp_path / "cache")
    got = state_dict(KEY, tmp_path / "cache", "ra")
    assert got.keys() == weights.keys() and all(torch.equal(got[k], v) for k, v in weights.items())


def test_the_download_of_another_file_is_refused_in_one_line_and_removed(tmp_path, monkeypatch):
    _published(tmp_path, monkeypatch)
    spec = FILES[KEY]
    monkeypatch.setitem(FILES, KEY, dataclasses.replace(spec, sha256="0" * 64))
    with pytest.raises(InputError) as err:
        fetch_weights([KEY], tmp_path / "cache", TIMES)
    assert "\n" not in str(err.value) and "sha256" in str(err.value) and spec.url in str(err.value)
    assert not weights_path(KEY, tmp_path / "cache").exists()


def test_a_cached_file_altered_later_is_refused_before_it_is_read(tmp_path, monkeypatch):
    _published(tmp_path, monkeypatch)
    [path] = fetch_weights([KEY], tmp_path / "cache", TIMES)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # same size, another file
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="is not the published") as err:
        state_dict(KEY, tmp_path / "cache", "ra")
    assert "\n" not in str(err.value)


def test_a_missing_file_names_the_rule_and_the_offline_variant(tmp_path):
    with pytest.raises(InputError) as err:
        state_dict("vgg19", tmp_path, "phanes")
    said = str(err.value)
    assert "download_weights" in said and "\n" not in said and said.startswith(str(tmp_path))


def test_the_published_files_are_pinned_by_full_sha256_and_size():
    for key, spec in FILES.items():
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0 and spec.size > 0, key
        if spec.url.startswith(pretrained.TORCHVISION):  # torchvision names a file by its sha256's first 8 hex
            assert spec.url == pretrained.TORCHVISION + spec.file, key
            assert spec.file.split("-")[-1] == spec.sha256[:8] + ".pth", key


def test_the_lpips_heads_are_the_wheels_file():
    """The LPIPS heads URL's file is byte for byte the one the lpips 0.1.4 wheel ships."""
    lpips = pytest.importorskip("lpips")
    from pathlib import Path

    shipped = Path(lpips.__file__).parent / "weights" / "v0.1" / "squeeze.pth"
    data = shipped.read_bytes()
    assert hashlib.sha256(data).hexdigest() == FILES["lpips_squeeze"].sha256
    assert len(data) == FILES["lpips_squeeze"].size


def test_the_weights_setting_is_checked_in_one_line():
    assert pretrained.check_weights_setting("random", "fae") == "random"
    with pytest.raises(InputError, match="fae.weights"):
        pretrained.check_weights_setting("imagenet1k", "fae")


def test_a_paper_method_and_its_offline_variant_each_refuse_the_others_weights():
    pretrained.check_variant("imagenet", "RA", "RA")
    pretrained.check_variant("random", "RA-noLPIPS", "RA")
    with pytest.raises(InputError, match="RA trains with weights imagenet.*variant_of RA"):
        pretrained.check_variant("random", "RA", "RA")
    with pytest.raises(InputError, match="RA-noLPIPS trains with weights random.*list RA in `methods`"):
        pretrained.check_variant("imagenet", "RA-noLPIPS", "RA")


def test_every_variant_is_a_method_of_its_own_with_another_name_and_no_published_file():
    """A variant is never shown under the paper's name: its registry name, model folder and
    training rule differ from its paper method's, it shares the block, and it needs no download."""
    from patch2loc.registry import METHODS, REGISTRY, implementation

    variants = [m for m in REGISTRY if m.variant_of]
    assert variants
    for variant in variants:
        paper = METHODS[variant.variant_of]
        assert paper.pretrained and not variant.pretrained, variant.name
        assert variant.name != paper.name and variant.models != paper.models and variant.train_rule != paper.train_rule
        assert variant.config == paper.config
        settings = implementation(variant.name).Settings
        assert settings().method == variant.name and settings().weights == pretrained.RANDOM
        assert implementation(paper.name).Settings().weights == pretrained.IMAGENET
