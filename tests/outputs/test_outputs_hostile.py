"""A planted link among predict's outputs (for an
output folder or an output file) is refused before compute, the link named."""

from __future__ import annotations

import tempfile

import pytest

from patch2loc.files.staging import TEMP_MARK
from tests.helpers.fake_chain import fake_prepare, fake_run, from_run_argv
from tests.helpers.safety import make_case, predict_argv, refused


def _no_compute(*args, **kwargs):
    raise AssertionError("compute started before the check")


@pytest.fixture()
def c(tmp_path, monkeypatch):
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # what would be left there is seen
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", fake_prepare)
    return make_case(tmp_path / "in")


@pytest.mark.parametrize("target", ["a folder", "nothing"])
def test_a_planted_link_for_an_output_is_refused_before_compute(c, tmp_path, capsys, monkeypatch, target):
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_compute)
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "out" / "image_preprocessed"  # the scan's id is `image`
    link.symlink_to(tmp_path / ("elsewhere" if target == "a folder" else "gone"))
    line = refused(
        from_run_argv(fake_run(tmp_path / "wf"), c, tmp_path / "out"), "is a symbolic link", tmp_path, capsys
    )
    assert str(link) in line and TEMP_MARK not in line


def test_a_planted_link_for_an_output_file_is_refused(c, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x_summary.json").symlink_to(tmp_path / "in" / "elsewhere.json")
    refused(
        predict_argv(c, tmp_path / "out" / "x.nii.gz"),
        "is a symbolic link",
        tmp_path,
        capsys,
    )
