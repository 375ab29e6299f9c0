"""A checkpoint archive that claims gigabytes (a deflate
bomb in torch.save's zip) is refused from its zip directory before anything of that size is allocated (the CLI in a
child process, its peak memory measured); the limit (PATCH2LOC_MAX_CHECKPOINT_MB) is configurable."""

from __future__ import annotations

import io
import zipfile

import pytest
import torch

from tests.helpers.hostile import refused_in_child, zip_with_inflating_members
from tests.helpers.safety import make_case, predict_argv, refused


@pytest.fixture()
def c(tmp_path):
    return make_case(tmp_path / "in")


def _assert_refused_in_child(argv, needle, watched, env=None):
    return refused_in_child(argv, needle, watched, env)[0]


def _deflate_bomb_checkpoint(path, inflated_mb: int) -> None:
    """A torch.save archive whose data/0 member inflates to `inflated_mb` MB of zeros (a few MB on
    disk); its other members as torch wrote them."""
    buf = io.BytesIO()
    torch.save({"model": {"w": torch.zeros(4)}, "patch_size": 2}, buf)
    source = zipfile.ZipFile(buf)
    names = [i.filename for i in source.infolist()]
    bomb = next(name for name in names if name.endswith("data/0"))
    members = {name: source.read(name) for name in names if name != bomb}
    zip_with_inflating_members(path, members, {bomb: inflated_mb << 20})


@pytest.mark.slow
def test_checkpoint_bomb_is_refused_from_its_zip_directory(c, tmp_path):
    bomb = tmp_path / "in" / "bomb.pt"
    _deflate_bomb_checkpoint(bomb, 2816)  # 2.75 GB inflated
    assert bomb.stat().st_size < 4 << 20
    with zipfile.ZipFile(bomb) as z:  # a valid archive: the sizes are what it declares
        assert sum(i.file_size for i in z.infolist()) > 2800 << 20
    line = _assert_refused_in_child(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=bomb), "PATCH2LOC_MAX_CHECKPOINT_MB", tmp_path
    )
    assert str(bomb) in line and "2,816 MB" in line


def test_checkpoint_limit_is_configurable(c, tmp_path, capsys, monkeypatch):
    _deflate_bomb_checkpoint(tmp_path / "in" / "small_bomb.pt", 64)
    monkeypatch.setenv("PATCH2LOC_MAX_CHECKPOINT_MB", "32")
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=tmp_path / "in" / "small_bomb.pt"),
        "PATCH2LOC_MAX_CHECKPOINT_MB",
        tmp_path,
        capsys,
    )
    monkeypatch.setenv("PATCH2LOC_MAX_CHECKPOINT_MB", "128")  # within the limit: torch reads it, and it is no model
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=tmp_path / "in" / "small_bomb.pt"),
        "small_bomb.pt: cannot be read",
        tmp_path,
        capsys,
    )
