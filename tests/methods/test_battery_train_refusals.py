"""Hostile inputs to `patch2loc train` (the first safety battery, item "9"): truncated and crafted
resume states, empty csv cells, too few patches, an output that is a file, a validation volume of
another shape; with the clean training references. Each case runs the CLI in a child process and
must end with one line naming the file and the fix, exit 2, and nothing left
(tests/helpers/hostile_kit.py's judge). Slow: `make test-hostile`."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.hostile_cli import NONE, Cases, inp, train, witness_pickle
from tests.helpers.hostile_files import nifti

pytestmark = pytest.mark.hostile
CASES = Cases()


def _truncated_resume(k):
    k.run(train(k, "--steps", "1", out=inp(k, "run")))
    last = inp(k, "run") / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])


def _other_shape_val(k):
    nifti(inp(k, "v.nii.gz"), np.random.default_rng(1).random((24, 24, 4)).astype(np.float32))
    mask = np.zeros((24, 24, 4), np.uint8)
    mask[4:20, 4:20] = 1  # a brain-like mask: an all-ones one would add its own (right) warning line
    nifti(inp(k, "vm.nii.gz"), mask)
    inp(k, "val.csv").write_text("image,mask\nv.nii.gz,vm.nii.gz\n")


@CASES.case("ok", "clean_train")
def _(k):
    k.succeeded(k.run(train(k)), [k.dir / "out" / n for n in ("best.pt", "last.pt", "loss.csv")], lines=20)


@CASES.case("20:L", "train_csv_relative_other_cwd")
def _(k):
    k.succeeded(k.run(train(k), cwd=k.dir / "in"), [k.dir / "out" / "last.pt"], lines=20)


CASES.resume_refusal("9", "train_truncated_last_pt", "resume state", _truncated_resume)


CASES.resume_refusal(
    "9",
    "train_crafted_last_pt",
    "refused",
    lambda k: witness_pickle(k, inp(k, "run") / "last.pt", model={}, patch_size=3),
)


CASES.refusal(
    "9",
    "train_empty_mask_cell",
    "empty 'mask' cell",
    lambda k: train(k, train_list=inp(k, "t.csv")),
    setup=lambda k: inp(k, "t.csv").write_text(f"image,mask\n{k.fix['lists'] / 'sub0' / 'image.nii.gz'},\n"),
)


CASES.refusal("9", "train_patches_1", "--patches", lambda k: train(k, "--patches", "1"))


CASES.refusal(
    "9", "train_out_is_the_csv", "not a folder", lambda k: train(k, out=k.fix["lists"] / "train.csv"), out=NONE
)


CASES.refusal(
    "9",
    "train_val_other_shape",
    "validation volume",
    lambda k: train(k, val_list=inp(k, "val.csv")),
    setup=_other_shape_val,
)


@pytest.mark.parametrize("fn", CASES.params())
def test_train_input_is_refused_with_one_line_and_nothing_left(request, fn, hostile_cli):
    hostile_cli.check(request.node.callspec.id, fn)
