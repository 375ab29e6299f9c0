"""A planted link among predict's outputs (for an
output folder or an output file) is refused before compute, the link named."""

from __future__ import annotations


import pytest

from patch2loc.files.staging import TEMP_MARK
from tests.helpers.fake_chain import faked_case, no_compute, fake_run, from_run_argv
from tests.helpers.safety import predict_argv, refused


@pytest.fixture()
def c(tmp_path, monkeypatch):
    return faked_case(tmp_path, monkeypatch)


@pytest.mark.parametrize("target", ["a folder", "nothing"])
def test_a_planted_link_for_an_output_is_refused_before_compute(c, tmp_path, capsys, monkeypatch, target):
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", no_compute)
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
