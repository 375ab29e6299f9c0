"""Files are checked for what they claim before they are read.

Decompression bombs (an image header that claims gigabytes; a checkpoint archive's are in
checkpoint/test_checkpoint_archive_hostile.py) are refused before anything of that size is
allocated: the CLI runs in a child process and its peak memory (ru_maxrss) stays below a tiny good
input's plus a margin (helpers/hostile.py MARGIN_MB). Zero, negative or non-finite voxel sizes,
degenerate, sheared or ambiguous (qform vs sform) affines, truncated files and FIFOs are refused in
one line. Each case asserts exit 2, one stderr line without traceback, and that the test folder is
unchanged.
"""

from __future__ import annotations

import gzip
import os
import threading
import time

import nibabel as nib
import numpy as np
import pytest
from tests.helpers.hostile import (
    assert_nothing_allocated,
    cli_in_child,
    fake_run,
    nifti_header,
    refused_in_child,
    write_nii_gz,
)
from tests.helpers.safety import SHAPE, predict_argv, refused

from patch2loc.checks.claims import nifti_claims
from patch2loc.errors import InputError

BOMB_SHAPE = (1200, 1200, 600)  # int32: 3.2 GB claimed


def _from_run_argv(run, image, mask, out, ckpt):
    return predict_argv(None, out, image=image, mask=mask, ckpt=ckpt, from_run=run)


def _assert_refused_in_child(argv, needle, watched, env=None):
    return refused_in_child(argv, needle, watched, env)[0]


# ---------------------------------------------------------------- image bombs


@pytest.mark.slow  # a child process: its peak memory is measured
@pytest.mark.parametrize("body_mb", [0, 64])  # header only (63 bytes gzipped), or 64 MB of zeros (65 kB)
def test_nifti_bomb_is_refused_from_its_header(c, tmp_path, body_mb):
    bomb = write_nii_gz(tmp_path / "in" / "bomb.nii.gz", nifti_header(BOMB_SHAPE, np.int32), body_mb << 20)
    assert bomb.stat().st_size < 1 << 20
    line = _assert_refused_in_child(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", image=bomb), "PATCH2LOC_MAX_IMAGE_MB", tmp_path
    )
    assert str(bomb) in line and "1200 x 1200 x 600" in line


@pytest.mark.slow  # allocates about 4 GB for a moment
def test_the_memory_ceiling_catches_a_bomb_that_is_read(c, tmp_path):
    """The check above can fail: with the size limit and the memory budget lifted (and a mask
    header on the bomb's grid), the same bomb is read (64 MB of its 3.2 GB are there) and its peak
    is far above the ceiling the refusals are held to."""
    bomb = write_nii_gz(tmp_path / "in" / "bomb.nii.gz", nifti_header(BOMB_SHAPE, np.int32), 64 << 20)
    mask = write_nii_gz(tmp_path / "in" / "bomb_mask.nii.gz", nifti_header(BOMB_SHAPE, np.uint8))
    rc, err, peak_mb = cli_in_child(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", image=bomb, mask=mask),
        {"PATCH2LOC_MAX_IMAGE_MB": "100000", "PATCH2LOC_MEMORY_BUDGET_MB": "10000000"},
    )
    assert rc == 2 and "PATCH2LOC_MAX_IMAGE_MB" not in err[-1], err  # read, then found short
    with pytest.raises(AssertionError, match="peak memory"):
        assert_nothing_allocated(peak_mb)


@pytest.mark.slow
def test_nifti_bomb_with_from_run_is_refused_before_preprocessing(c, tmp_path):
    run = fake_run(tmp_path / "wf")
    bomb = write_nii_gz(tmp_path / "in" / "bomb.nii.gz", nifti_header(BOMB_SHAPE, np.int32))
    _assert_refused_in_child(
        _from_run_argv(run, bomb, c["mask"], tmp_path / "out" / "h.nii.gz", c["ckpt"]),
        "PATCH2LOC_MAX_IMAGE_MB",
        tmp_path,
    )


def test_image_limit_is_configurable_and_named(c, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATCH2LOC_MAX_IMAGE_MB", "0.001")  # 1 kB: the 16 x 16 x 4 test image is 4 kB
    line = refused(predict_argv(c, tmp_path / "out" / "h.nii.gz"), "PATCH2LOC_MAX_IMAGE_MB", tmp_path, capsys)
    assert str(c["image"]) in line and "16 x 16 x 4" in line
    monkeypatch.setenv("PATCH2LOC_MAX_IMAGE_MB", "lots")
    refused(predict_argv(c, tmp_path / "out" / "h.nii.gz"), "PATCH2LOC_MAX_IMAGE_MB='lots'", tmp_path, capsys)
    monkeypatch.setenv("PATCH2LOC_MAX_IMAGE_MB", "1")
    assert nifti_claims(c["image"]).shape == SHAPE


def test_truncated_files_are_named_truncated(c, tmp_path, capsys):
    data = np.ones(SHAPE, np.float32)
    whole = nifti_header(SHAPE) + data.tobytes()
    (tmp_path / "in" / "cut.nii").write_bytes(whole[:-100])
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", image=tmp_path / "in" / "cut.nii"), "truncated", tmp_path, capsys
    )
    assert f"needs {len(whole):,} bytes" in line
    # header only, a plausible shape on the mask's grid (its header passes every check): nibabel's
    # read fails; one line, named
    write_nii_gz(tmp_path / "in" / "head.nii.gz", nifti_header(SHAPE, zooms=(1.5, 1.0, 2.0), affine=c["affine"]))
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", image=tmp_path / "in" / "head.nii.gz"),
        "cannot be read as NIfTI",
        tmp_path,
        capsys,
    )
    (tmp_path / "in" / "short.nii.gz").write_bytes(gzip.compress(whole[:200]))
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", image=tmp_path / "in" / "short.nii.gz"),
        "ends inside its header",
        tmp_path,
        capsys,
    )


# ---------------------------------------------------------------- voxel sizes and affines


def _image_with_header(path, zooms=(1.5, 1.0, 2.0), affine=None):
    head = nifti_header(SHAPE, zooms=(1.0, 1.0, 1.0), affine=affine)
    header = nib.Nifti1Header(head[:348], check=False)
    header["pixdim"][1:4] = zooms
    data = np.random.default_rng(0).normal(1.0, 0.3, SHAPE).astype(np.float32)
    return write_nii_gz(path, header.binaryblock + b"\0" * 4 + data.T.tobytes(order="C"))


@pytest.mark.parametrize("zooms", [(0.0, 1.0, 2.0), (-1.5, 1.0, 2.0), (1.5, float("nan"), 2.0)])
def test_zero_negative_or_nan_voxel_sizes_are_refused(c, tmp_path, capsys, zooms):
    image = _image_with_header(tmp_path / "in" / "bad.nii.gz", zooms)
    line = refused(predict_argv(c, tmp_path / "out" / "h.nii.gz", image=image), "voxel size", tmp_path, capsys)
    assert str(image) in line and "refused" in line


def test_voxel_sizes_with_from_run_are_refused_before_preprocessing(c, tmp_path, capsys):
    run = fake_run(tmp_path / "wf")
    image = _image_with_header(tmp_path / "in" / "bad.nii.gz", (0.0, 4.0, 4.0))
    refused(
        _from_run_argv(run, image, c["mask"], tmp_path / "out" / "h.nii.gz", c["ckpt"]), "voxel size", tmp_path, capsys
    )


def test_degenerate_affine_is_refused(c, tmp_path, capsys):
    affine = np.diag([1.5, 1.0, 2.0, 1.0])
    affine[:3, 2] = affine[:3, 1]  # two voxel axes along one line
    image = _image_with_header(tmp_path / "in" / "flat.nii.gz", affine=affine)
    refused(predict_argv(c, tmp_path / "out" / "h.nii.gz", image=image), "degenerate", tmp_path, capsys)


def test_qform_and_sform_that_disagree_are_refused_with_from_run(c, tmp_path, capsys):
    """nibabel follows the sform (code 2), ITK the qform (code 1): two geometries, refused."""
    run = fake_run(tmp_path / "wf")
    img = nib.load(c["image"])
    shifted = img.affine.copy()
    shifted[:3, 3] += (10.0, 0.0, 0.0)
    two = nib.Nifti1Image(np.asarray(img.dataobj), None)
    two.set_sform(img.affine, code=2)
    two.set_qform(shifted, code=1)
    nib.save(two, tmp_path / "in" / "two.nii.gz")
    line = refused(
        _from_run_argv(run, tmp_path / "in" / "two.nii.gz", c["mask"], tmp_path / "out" / "h.nii.gz", c["ckpt"]),
        "would mix",
        tmp_path,
        capsys,
    )
    assert "qform and sform" in line


def test_sheared_affine_is_called_sheared_not_truncated(c, tmp_path, capsys):
    from patch2loc.preprocessing.imaging import read_image

    run = fake_run(tmp_path / "wf")
    affine = np.diag([1.5, 1.0, 2.0, 1.0])
    affine[0, 1] = 0.5
    nib.save(nib.Nifti1Image(np.asarray(nib.load(c["image"]).dataobj), affine), tmp_path / "in" / "shear.nii.gz")
    line = refused(
        _from_run_argv(run, tmp_path / "in" / "shear.nii.gz", c["mask"], tmp_path / "out" / "h.nii.gz", c["ckpt"]),
        "sheared",
        tmp_path,
        capsys,
    )
    assert "truncated" not in line
    with pytest.raises(InputError, match="sheared"):  # the workflow's reader says the same
        read_image(tmp_path / "in" / "shear.nii.gz")


# ---------------------------------------------------------------- LOW: FIFOs are named, never opened


@pytest.mark.parametrize("flag", ["--image", "--mask", "--checkpoint"])
def test_fifo_is_called_a_fifo_and_not_opened(c, tmp_path, capsys, flag):
    (tmp_path / "pipes").mkdir()
    fifo = tmp_path / "pipes" / "pipe.nii.gz"  # outside the watched folder: snapshot() would block on it
    os.mkfifo(fifo)
    done = threading.Event()

    def unblock():  # if the CLI ever opens the FIFO, a writer connects and closes: it reads EOF, no hang
        while not done.is_set():
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError:  # no reader yet (ENXIO): the CLI has not opened it
                time.sleep(0.05)

    threading.Thread(target=unblock, daemon=True).start()
    argv = predict_argv(c, tmp_path / "out" / "h.nii.gz")
    argv[argv.index(flag) + 1] = str(fifo)
    try:
        line = refused(argv, "FIFO", tmp_path / "in", capsys)
    finally:
        done.set()
    assert f"{fifo}: " in line and "not found" not in line and not (tmp_path / "out").exists()
