"""The real scans' ROBEX masks (rehearsals.real.real_scans.robex_mask): ROBEX runs once per scan, and
again for another scan; the cached mask is the file ROBEX wrote."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from rehearsals.real import real_scans
from patch2loc.preprocessing.skullstrip import robex_key
from rehearsals.real.real_scans import robex_mask
from tests.helpers.robex import fake_robex


def _scan(path: Path, value: float) -> Path:
    data = np.zeros((8, 8, 4), np.float32)
    data[2:6, 2:6, 1:3] = value
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    return path


def test_robex_runs_once_per_scan(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCH2LOC_TEST_DATA", str(tmp_path / "cache"))
    calls = fake_robex(monkeypatch)
    a, b = _scan(tmp_path / "a.nii.gz", 1.0), _scan(tmp_path / "b.nii.gz", 2.0)
    first = robex_mask(a, tmp_path / "a_mask1.nii.gz")
    again = robex_mask(a, tmp_path / "a_mask2.nii.gz")
    assert calls == ["a.nii.gz"]
    assert again.read_bytes() == first.read_bytes()
    robex_mask(b, tmp_path / "b_mask.nii.gz")
    assert calls == ["a.nii.gz", "b.nii.gz"]  # other voxels: another key
    assert not list((tmp_path / "cache" / "robex").glob("*.part"))


def test_a_shipped_mask_of_the_same_key_is_used_and_another_key_runs_robex(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCH2LOC_TEST_DATA", str(tmp_path / "cache"))
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    monkeypatch.setattr(real_scans, "SHIPPED_MASKS", shipped)
    calls = fake_robex(monkeypatch)
    a, b = _scan(tmp_path / "a.nii.gz", 1.0), _scan(tmp_path / "b.nii.gz", 2.0)
    (shipped / f"{robex_key(a)}.nii.gz").write_bytes(b"the shipped mask")
    assert robex_mask(a, tmp_path / "a_mask.nii.gz").read_bytes() == b"the shipped mask"
    robex_mask(b, tmp_path / "b_mask.nii.gz")
    assert calls == ["b.nii.gz"]
