"""Without --quiet a folder run shows a bar of
scans; a failed scan's error line starts a line of its own instead of being glued to the bar."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.helpers.fake_chain import faked_case
from tests.helpers.hostile import nifti_header, write_nii_gz
from tests.helpers.safety import SHAPE, predict_argv

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture()
def c(tmp_path, monkeypatch):
    return faked_case(tmp_path, monkeypatch)


@pytest.mark.slow  # a child process
def test_a_batch_error_starts_a_line_of_its_own(c, tmp_path):
    """Without --quiet a folder run shows a bar of scans: a failed scan's line used to be glued to it."""
    scans = tmp_path / "scans"
    scans.mkdir()
    # a header that passes every check, and no voxels: it fails once the models are loaded, the bar shown
    write_nii_gz(scans / "a.nii.gz", nifti_header(SHAPE, zooms=(1.5, 1.0, 2.0), affine=c["affine"]))
    (tmp_path / "list.csv").write_text(f"image,mask\n{scans / 'a.nii.gz'},{c['mask']}\n{c['image']},{c['mask']}\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "patch2loc.cli",
            *predict_argv(c, tmp_path / "out", image=tmp_path / "list.csv", mask=False, quiet=False),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    starts = [m.start() for m in re.finditer("patch2loc predict: error:", done.stderr)]
    assert len(starts) == 1 and all(i == 0 or done.stderr[i - 1] in "\r\n" for i in starts), done.stderr
    assert "scans:" in done.stderr and "cannot be read as NIfTI" in done.stderr
