"""Output safety primitives: same-file detection, staged outputs, stale temp files, file modes."""

from __future__ import annotations

import os
import stat

import pytest

from patch2loc.errors import InputError
from patch2loc.files.outputs import check_output, same_file
from patch2loc.files.staging import TEMP_MARK, OutputSet, atomic_output, remove_stale_temps


def test_same_file_sees_paths_symlinks_and_hard_links(tmp_path):
    a = tmp_path / "a.nii.gz"
    a.write_bytes(b"x")
    os.symlink(a, tmp_path / "sym")
    os.link(a, tmp_path / "hard")
    assert same_file(a, tmp_path / "sym") and same_file(a, tmp_path / "hard")
    assert same_file(a, tmp_path / "sub" / ".." / "a.nii.gz")
    assert not same_file(a, tmp_path / "b.nii.gz")


def test_output_folder_containing_an_input_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "scan.nii.gz").write_bytes(b"x")
    with pytest.raises(InputError, match="contains --image"):
        check_output(tmp_path / "d", "--out", inputs={"--image": tmp_path / "d" / "scan.nii.gz"}, folder=True)


def test_output_set_commits_all_or_nothing(tmp_path):
    with OutputSet() as outs:
        (outs.file(tmp_path / "a.txt")).write_text("a")
        folder = outs.folder(tmp_path / "f")
        (folder / "inner.txt").write_text("i")
    assert (tmp_path / "a.txt").read_text() == "a" and (tmp_path / "f" / "inner.txt").read_text() == "i"
    with pytest.raises(RuntimeError):
        with OutputSet() as outs:
            outs.file(tmp_path / "b.txt").write_text("b")
            outs.folder(tmp_path / "f")
            raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "f"]  # old folder kept, no temps
    with OutputSet() as outs:  # an existing folder is replaced whole
        (outs.folder(tmp_path / "f") / "new.txt").write_text("n")
    assert [p.name for p in (tmp_path / "f").iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "f"]


def test_stale_temps_of_one_output_only(tmp_path):
    stale = tmp_path / f".last.pt{TEMP_MARK}abc.pt"
    other = tmp_path / f".best.pt{TEMP_MARK}abc.pt"
    stale.write_bytes(b"x")
    other.write_bytes(b"x")
    assert remove_stale_temps(tmp_path / "last.pt") == [stale]
    assert not stale.exists() and other.exists()
    with atomic_output(tmp_path / "best.pt") as tmp:  # the next write of best.pt removes its leftover
        tmp.write_bytes(b"y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]


def test_atomic_output_honours_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_output(tmp_path / "x.csv") as tmp:
            tmp.write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.csv").stat().st_mode) == 0o640
