"""Hostile inputs to `patch2loc predict` (the first safety battery, item "9"): its outputs aimed at
its inputs, crafted pickles, bad flags and devices, empty, NaN and mismatched scans and masks,
unreadable checkpoints, run folders that are not ours or copied in part; with the clean references
the other hostile tests compare against. Each case runs the CLI in a child process and must end with
one line naming the file and the fix, exit 2, and nothing left (tests/helpers/hostile_kit.py's judge).
Slow: `make test-hostile`."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from tests.helpers.hostile_cli import (
    NONE,
    Cases,
    case_image,
    inp,
    pre,
    pre_outputs,
    raw,
    raw_outputs,
    witness_pickle,
)
from tests.helpers.hostile_files import nifti

pytestmark = pytest.mark.hostile
CASES = Cases()


def with_device(k, device: str) -> list:
    argv = pre(k)
    argv[argv.index("--device") + 1] = device
    return argv


def _zero_image(k):
    nifti(inp(k, "zero.nii.gz"), np.zeros((16, 16, 4), np.float32), k.fix["affine"])


def _nan_image(k):
    data, affine = case_image(k)
    data[3, 3, 1] = np.nan
    nifti(inp(k, "nan.nii.gz"), data, affine)


def _not_ours(k):
    (inp(k, "mine_preprocessed")).mkdir()
    (inp(k, "mine_preprocessed") / "notes.txt").write_text("my own work")


def _copied_run(k):
    """A run folder copied without its recorded atlas (a run records the atlas it registered to
    inside itself, so a whole copy works; a partial one must be refused)."""
    shutil.copytree(k.fix["run"], inp(k, "copy"))
    shutil.rmtree(inp(k, "copy") / "atlas")


@CASES.case("ok", "clean_preprocessed")
def _(k):
    k.succeeded(k.run(pre(k, "--png", k.dir / "out" / "h.png")), [*pre_outputs(k), k.dir / "out" / "h.png"])


@CASES.case("ok", "clean_from_run")
def _(k):
    res = k.run(raw(k))
    k.succeeded(res, raw_outputs(k))
    if res.rc == 0:
        k.shared["from_run_ml"] = json.loads((k.dir / "out" / "h_summary.json").read_text())["lesion_volume_ml"]


CASES.refusal("9", "out_is_the_image", "same file", lambda k: pre(k, out=k.fix["image"]))


CASES.refusal("9", "out_is_the_mask", "same file", lambda k: pre(k, out=k.fix["mask"]))


CASES.refusal("9", "png_is_the_image", "image.nii.gz", lambda k: pre(k, "--png", k.fix["image"]))


def _out_linked_to_image(name: str, link, file: str) -> None:
    """--out a link to the image (`link`: os.symlink, os.link): the same file, refused, the image kept."""
    argv, setup = lambda k: pre(k, out=inp(k, file)), lambda k: link(k.fix["image"], inp(k, file))
    CASES.refusal("9", name, "same file", argv, setup=setup, out=NONE)


_out_linked_to_image("out_symlink_to_image", os.symlink, "alias.nii.gz")
_out_linked_to_image("out_hardlink_to_image", os.link, "hard.nii.gz")


CASES.refusal(
    "9",
    "crafted_pickle_checkpoint",
    "refused",
    lambda k: pre(k, ckpt=inp(k, "evil.pt")),
    setup=lambda k: witness_pickle(k, inp(k, "evil.pt"), model={}, patch_size=2),
)


CASES.refusal("9", "out_suffix_png", "must end in", lambda k: pre(k, out=k.dir / "out" / "h.png"))


CASES.refusal(
    "9",
    "out_existing_folder",
    "existing folder",
    lambda k: pre(k, out=k.dir / "out" / "d.nii.gz"),
    setup=lambda k: (k.dir / "out" / "d.nii.gz").mkdir(parents=True),
    out=lambda k: k.dir / "out" / "d.nii.gz",
)


CASES.refusal(
    "9",
    "out_parent_is_a_file",
    "not a folder",
    lambda k: pre(k, out=inp(k, "afile") / "h.nii.gz"),
    setup=lambda k: inp(k, "afile").write_text("x"),
    out=NONE,
)


CASES.refusal("9", "png_wrong_suffix", ".png", lambda k: pre(k, "--png", k.dir / "out" / "h.nii"))


CASES.refusal("9", "device_unknown", "unknown device", lambda k: with_device(k, "gpu"))


CASES.refusal("9", "device_cuda_7", "cuda", lambda k: with_device(k, "cuda:7"))


CASES.refusal(
    "9", "all_zero_preprocessed_image", "constant", lambda k: pre(k, image=inp(k, "zero.nii.gz")), setup=_zero_image
)


CASES.refusal("9", "t1_model_t2_flag", "trained on T1", lambda k: pre(k, "--modality", "T2"))


CASES.refusal("9", "image_missing", "not found", lambda k: pre(k, image=inp(k, "nope.nii.gz")))


CASES.refusal(
    "9",
    "image_corrupt",
    "bad.nii.gz",
    lambda k: pre(k, image=inp(k, "bad.nii.gz")),
    setup=lambda k: inp(k, "bad.nii.gz").write_bytes(b"not a nifti at all"),
)


CASES.refusal("9", "image_with_nan", "NaN", lambda k: pre(k, image=inp(k, "nan.nii.gz")), setup=_nan_image)


CASES.refusal(
    "9",
    "mask_other_shape",
    "shape",
    lambda k: pre(k, mask=inp(k, "m.nii.gz")),
    setup=lambda k: nifti(inp(k, "m.nii.gz"), np.ones((16, 16, 3), np.uint8), k.fix["affine"]),
)


CASES.refusal(
    "9",
    "mask_empty",
    "empty",
    lambda k: pre(k, mask=inp(k, "m.nii.gz")),
    setup=lambda k: nifti(inp(k, "m.nii.gz"), np.zeros((16, 16, 4), np.uint8), k.fix["affine"]),
)


CASES.refusal(
    "9",
    "checkpoint_text_file",
    "cannot be read",
    lambda k: pre(k, ckpt=inp(k, "m.pt")),
    setup=lambda k: inp(k, "m.pt").write_text("hello"),
)


CASES.refusal("9", "checkpoint_missing", "not found", lambda k: pre(k, ckpt=inp(k, "none.pt")))


CASES.refusal(
    "9",
    "from_run_folder_not_ours",
    "something other than patch2loc",
    lambda k: raw(k, out=inp(k, "mine.nii.gz")),
    setup=_not_ours,
    out=NONE,
)


CASES.refusal(
    "9",
    "from_run_corrupt_checkpoint",
    "cannot be read",
    lambda k: raw(k, "--checkpoint", inp(k, "bad.pt")),
    setup=lambda k: inp(k, "bad.pt").write_bytes(b"\x80\x04garbage"),
)


CASES.refusal("9", "from_run_copied_without_atlas", "atlas", lambda k: raw(k, run=inp(k, "copy")), setup=_copied_run)


@CASES.case("9", "from_run_no_mask_no_hdbet")
def _(k):
    k.refused(k.run(raw(k, mask=None), env={"PATH": "/usr/bin:/bin"}), "HD-BET")


@pytest.mark.parametrize("fn", CASES.params())
def test_predict_input_is_refused_with_one_line_and_nothing_left(request, fn, hostile_cli):
    hostile_cli.check(request.node.callspec.id, fn)
