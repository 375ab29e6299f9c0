"""Hostile inputs to `patch2loc predict` and `train` refused in one line (the second safety battery,
items 4-11: decompression bombs, checkpoint fields, an all-zero scan, a foreign resume state, flags out
of range, a non-UTF-8 output, voxel sizes) and its LOW list (SIGTERM and SIGINT mid-run, an output
folder holding the inputs, a FIFO, a sheared affine, an all-ones mask, an int16 scan that wrapped).
Each case runs the CLI in a child process (tests/helpers/hostile_kit.py's judge). Slow: `make test-hostile`."""

from __future__ import annotations

import os
import shutil
import signal

import numpy as np

import pytest

from tests.helpers.hostile_cli import (
    Cases,
    case_image,
    inp,
    pre,
    pre_outputs,
    raw,
    raw_image,
    raw_outputs,
    signal_when,
    train,
)
from tests.helpers.hostile_files import nifti

pytestmark = pytest.mark.hostile
CASES = Cases()

TEMP = ".p2l-tmp-"


def _ckpt_with_patch(k, patch_size):
    import torch

    ckpt = torch.load(k.fix["case_ckpt"], weights_only=True)
    ckpt["patch_size"] = patch_size
    torch.save(ckpt, k.dir / "in" / "p.pt")
    return k.dir / "in" / "p.pt"


def _voxels(k, zooms, from_run: bool) -> list:
    """A scan (and mask) whose header gives `zooms` as voxel sizes (no affine codes): the argv."""
    import nibabel as nib

    data, _ = raw_image(k) if from_run else case_image(k)
    img = nib.Nifti1Image(data, None)
    img.header["pixdim"][1:4] = zooms
    img.header.set_qform(None, code=0)
    img.header.set_sform(None, code=0)
    nib.save(img, inp(k, "v.nii.gz"))
    if from_run:
        return raw(k, "--skull-strip", "none", image=inp(k, "v.nii.gz"), mask=None)
    nib.save(nib.Nifti1Image(np.asarray(nib.load(k.fix["mask"]).dataobj), None, img.header), inp(k, "vm.nii.gz"))
    return pre(k, image=inp(k, "v.nii.gz"), mask=inp(k, "vm.nii.gz"))


# --------------------------------------------------------------------------- refusals (one line, exit 2)


def _zero_raw(k):
    data, affine = raw_image(k)
    nifti(inp(k, "zero.nii.gz"), np.zeros_like(data), affine)


def _foreign_resume(k):
    """A last.pt of today's format whose fields no training wrote (no config): the field check must refuse it."""
    import torch
    from tests.helpers.checkpoints import as_written

    inp(k, "run").mkdir()
    torch.save(as_written({"model": {}, "patch_size": 2, "step": 3}) | {"config": None}, inp(k, "run") / "last.pt")


BOMBS = lambda k, name: k.fix["bombs"] / name  # noqa: E731
CASES.refusal("20:4", "checkpoint_zip_bomb", "bomb.pt", lambda k: pre(k, ckpt=BOMBS(k, "bomb.pt")))
CASES.refusal("20:4", "nifti_gzip_bomb", "bomb.nii.gz", lambda k: pre(k, image=BOMBS(k, "bomb.nii.gz")))
CASES.refusal("20:4", "nifti_header_only", "header_only.nii.gz", lambda k: pre(k, image=BOMBS(k, "header_only.nii.gz")))
CASES.refusal(
    "20:4",
    "nifti_bomb_from_run",
    "bomb.nii.gz",
    lambda k: raw(k, "--skull-strip", "none", image=BOMBS(k, "bomb.nii.gz"), mask=None),
)
CASES.refusal("20:5", "checkpoint_patch_size_600", "patch", lambda k: pre(k, ckpt=_ckpt_with_patch(k, 600)))
CASES.refusal("20:5", "checkpoint_patch_size_1e9", "patch", lambda k: pre(k, ckpt=_ckpt_with_patch(k, 10**9)))
CASES.refusal(
    "20:7", "all_zero_raw_scan_from_run", "zero.nii.gz", lambda k: raw(k, image=inp(k, "zero.nii.gz")), setup=_zero_raw
)
CASES.resume_refusal("20:7", "train_foreign_last_pt", "last.pt: not a usable", _foreign_resume)
CASES.refusal("20:7", "stride_1000", "--stride", lambda k: pre(k, "--stride", "1000"))
CASES.refusal("20:7", "median_size_99", "--median-size", lambda k: pre(k, "--median-size", "99"))
CASES.refusal(
    "20:8",
    "non_utf8_out_from_run",
    "UTF-8",
    lambda k: raw(k, out=k.dir / "out" / os.fsdecode(b"\xff\xfe") / "h.nii.gz"),
)
CASES.refusal("20:10", "threshold_nan", "--threshold", lambda k: pre(k, "--threshold", "nan"))
CASES.refusal("20:10", "threshold_minus_inf", "--threshold", lambda k: pre(k, "--threshold=-inf"))
CASES.refusal("20:10", "stride_200", "--stride", lambda k: pre(k, "--stride", "200"))
CASES.refusal("20:10", "median_size_31", "--median-size", lambda k: pre(k, "--median-size", "31"))
CASES.refusal("20:10", "stride_wider_than_the_slice", "--stride", lambda k: pre(k, "--stride", "12"))
CASES.refusal("20:11", "zero_voxel_size", "voxel", lambda k: _voxels(k, (0.0, 1.0, 1.0), False))
CASES.refusal("20:11", "negative_voxel_size", "voxel", lambda k: _voxels(k, (-1.0, 1.0, 1.0), False))
CASES.refusal("20:11", "zero_voxel_size_from_run", "voxel", lambda k: _voxels(k, (0.0, 2.0, 2.0), True))


# --------------------------------------------------------------------------- LOW


@CASES.case("20:L", "sigterm_predict_from_run")
def _(k):
    out = k.dir / "out"
    res = k.run(raw(k), signal_after=signal_when(out, lambda p: TEMP in p.name, signal.SIGTERM))
    k.refused(res, "SIGTERM", status=143)


@CASES.case("20:L", "sigint_predict_from_run")
def _(k):
    out = k.dir / "out"
    res = k.run(raw(k), signal_after=signal_when(out, lambda p: TEMP in p.name, signal.SIGINT))
    k.refused(res, "interrupted", status=130)


@CASES.case("20:L", "sigterm_train")
def _(k):
    out = k.dir / "out"
    argv = train(k, "--steps", "400", "--val-every", "1")
    res = k.run(argv, signal_after=signal_when(out, lambda p: p.name == "loss.csv", signal.SIGTERM, delay=1.0))
    k.refused(res, "resume", status=143, out=k.dir / "none")
    names = sorted(p.name for p in out.iterdir()) if out.exists() else []
    if names != ["best.pt", "last.pt", "loss.csv"]:
        k.find("MEDIUM", f"left in --out: {names}")


@CASES.case("20:L", "out_folder_holds_the_inputs")
def _(k):
    (k.dir / "in" / "raw").mkdir()
    shutil.copy(k.fix["image"], k.dir / "in" / "raw" / "scan.nii.gz")
    shutil.copy(k.fix["mask"], k.dir / "in" / "mask.nii.gz")
    (k.dir / "in" / "l.csv").write_text("image,mask\nraw/scan.nii.gz,mask.nii.gz\n")
    argv = pre(k, out=k.dir / "in")
    argv[argv.index("--image") + 1] = k.dir / "in" / "l.csv"
    del argv[argv.index("--mask") : argv.index("--mask") + 2]
    k.succeeded(k.run(argv), [k.dir / "in" / "scan_summary.json"])


@CASES.case("20:L", "fifo_as_image")
def _(k):
    os.mkfifo(k.dir / "in" / "pipe.nii.gz")
    res = k.run(pre(k, image=k.dir / "in" / "pipe.nii.gz"), timeout=120)
    k.refused(res, "pipe.nii.gz")
    if res.err and "not found" in res.err[0]:
        k.find("LOW", "a FIFO called 'not found'")


@CASES.case("20:L", "shear_affine_raw")
def _(k):
    data, affine = raw_image(k)
    sheared = affine.copy()
    sheared[0, 1] += 0.3 * abs(affine[1, 1])
    nifti(k.dir / "in" / "shear.nii.gz", data, sheared)
    res = k.run(raw(k, "--skull-strip", "none", image=k.dir / "in" / "shear.nii.gz", mask=None))
    if res.err and "truncated" in res.err[0]:
        k.find("LOW", "a shear affine called 'truncated'")
    if res.rc == 2:
        k.refused(res)
    else:
        k.succeeded(res, raw_outputs(k), lines=1)


@CASES.case("20:L", "all_ones_mask")
def _(k):
    nifti(k.dir / "in" / "ones.nii.gz", np.ones((16, 16, 4), np.uint8), k.fix["affine"])
    res = k.run(pre(k, mask=k.dir / "in" / "ones.nii.gz"))
    k.succeeded(res, pre_outputs(k), lines=1)
    if res.rc == 0 and not any("mask" in line.lower() for line in res.err):
        k.find("LOW", "an all-ones brain mask accepted without a warning")


@CASES.case("20:L", "int16_wrapped_raw_scan")
def _(k):
    data, affine = raw_image(k)
    scaled = data.astype(np.int32) * (40000 // max(int(data.max()), 1))  # the brightest tissue near 40,000
    wrapped = scaled.astype(np.int16)  # overflow: bright tissue turns negative (from -32768 up)
    assert wrapped.min() < 0, "the case must wrap"
    nifti(k.dir / "in" / "wrapped.nii.gz", wrapped, affine)
    res = k.run(raw(k, image=k.dir / "in" / "wrapped.nii.gz"))
    if res.rc == 0 and not any("int16" in line or "negative" in line or "wrap" in line for line in res.err):
        k.find("LOW", "an int16-wrapped scan accepted without a warning")
    if res.rc not in (0, 2):
        k.find("MEDIUM", f"exit {res.rc}")


@pytest.mark.parametrize("fn", CASES.params())
def test_case_is_clean(request, fn, hostile_cli):
    """Clean: one line naming the file and the fix, exit 2 (or the signal's status), nothing left."""
    hostile_cli.check(request.node.callspec.id, fn)
