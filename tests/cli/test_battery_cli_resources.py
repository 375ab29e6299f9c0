"""Hostile conditions around `patch2loc predict` and `train` (the second safety battery, MEDIUM
6-7): a second predict into the same folder while the first runs, a full disk (predict, predict
--from-run, train; a tmpfs, root only), a corrupt loss.csv to resume from, and a scan too large for
the memory left. Each ends with one line naming the file and the fix, or finishes right; nothing
left. Slow: `make test-hostile`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
import pytest

from tests.helpers.hostile_cli import REPO_ENV, TEMP_MARK, Cases, pre, raw, raw_outputs, train, wait_for
from tests.helpers.hostile_files import nifti

pytestmark = pytest.mark.hostile
CASES = Cases()
TEMP = TEMP_MARK


@CASES.case("20:6", "second_predict_same_out")
def _(k):
    out = k.dir / "out"
    second = {}

    def start_second(first):
        if wait_for(out, lambda p: TEMP in p.name):  # the first run is preprocessing into its staging folder
            time.sleep(1.0)
            argv = [sys.executable, "-m", "patch2loc.cli", *[str(a) for a in raw(k)]]
            second["proc"] = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=REPO_ENV)

    res = k.run(raw(k), signal_after=start_second)
    if "proc" not in second:
        k.find("MEDIUM", "the first run never staged its outputs")
        return
    _, err = second["proc"].communicate(timeout=600)
    if res.rc != 0 or second["proc"].returncode != 0:
        k.find(
            "MEDIUM",
            f"first run exit {res.rc}, second exit {second['proc'].returncode}: "
            f"{(res.err or err.splitlines() or [''])[-1][:100]}",
        )
    k.succeeded(res, raw_outputs(k))


@contextmanager
def _full_disk(k, size: str):
    """A tmpfs of `size` at k.dir/disk (None, the case skipped, without root or mount), unmounted after."""
    disk = k.dir / "disk"
    disk.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True
        ).returncode
    ):
        k.skip("needs root and mount -t tmpfs")
        yield None
        return
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)])


@CASES.case("20:7", "disk_full_predict")
def _(k):
    with _full_disk(k, "12k") as disk:
        if disk is not None:
            k.refused(k.run(pre(k, "--png", disk / "h.png", out=disk / "h.nii.gz")), "no space", out=disk)


@CASES.case("20:7", "disk_full_predict_from_run")
def _(k):
    # the chain's files fit, the outputs do not (measured: 268 KB in all)
    with _full_disk(k, "150k") as disk:
        if disk is not None:
            k.refused(k.run(raw(k, out=disk / "h.nii.gz")), "no space", out=disk)


@CASES.case("20:7", "disk_full_train")
def _(k):
    with _full_disk(k, "300k") as disk:
        if disk is None:
            return
        res = k.run(train(k, out=disk / "run"))
        k.refused(res, "space", out=disk / "none")
        csv, last = disk / "run" / "loss.csv", disk / "run" / "last.pt"
        if csv.exists():
            import torch

            step = torch.load(last, weights_only=True)["step"] if last.exists() else 0
            rows = [int(r.split(",")[0]) for r in csv.read_text().splitlines()[1:]]
            if rows and max(rows) > step:
                k.find("MEDIUM", f"loss.csv has step {max(rows)} but the last checkpoint is at step {step}")


@CASES.case("20:7", "train_corrupt_loss_csv")
def _(k):
    k.run(train(k, "--steps", "1"))
    (k.dir / "out" / "loss.csv").write_text("step,train_loss\n1,abc\n\x00\x00\n")
    res = k.run(train(k))
    if res.rc == 2:
        k.refused(res, "loss.csv", out=k.dir / "none")
    else:
        k.succeeded(res, [k.dir / "out" / "loss.csv"], lines=20)


PROBE = """
import resource, sys, torch, torchvision, SimpleITK, nibabel, scipy.ndimage, tqdm
from patch2loc.methods.patch2loc.model import load_model
from patch2loc import cli
load_model(sys.argv[1], torch.device("cpu"))
print(open("/proc/self/status").read().split("VmPeak:")[1].split()[0])
"""


@CASES.case("20:7", "out_of_memory")
def _(k):
    """A 256 x 256 x 160 scan under an address-space limit 60 MB above what the imports and the
    model take (one thread, two malloc arenas: little virtual memory reserved up front). Where
    it bites depends on the build; wherever, the answer must be one line about memory, exit 2.
    The brain is 27 voxels and post-processing is off, so a run the limit did not stop is quick."""
    import torch
    from tests.helpers.checkpoints import as_written

    from patch2loc.checks.intensities import training_range
    from patch2loc.methods.patch2loc.model import Patch2LocNet

    shape = (256, 256, 160)
    image = np.random.default_rng(0).normal(1, 0.3, shape).astype(np.float32)
    nifti(k.dir / "in" / "big.nii.gz", image)
    brain = np.zeros(shape, np.uint8)
    brain[100:103, 100:103, 80:83] = 1
    nifti(k.dir / "in" / "big_mask.nii.gz", brain)
    # a valid model trained on this scan's scale: memory is the one thing wrong
    scale = training_range(image[None], brain[None] > 0)
    weights = {"model": Patch2LocNet(4).state_dict(), "patch_size": 4, "config": {"intensity_range": scale}}
    torch.save(as_written(weights, grid=shape), k.dir / "in" / "m.pt")
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(k.dir / "in" / "m.pt")],
        capture_output=True,
        text=True,
        env={**REPO_ENV, **env},
    )
    limit = int(probe.stdout.split()[0]) // 1024 + 60
    res = k.run(
        pre(
            k,
            "--centres",
            "mask",
            "--no-postprocess",
            image=k.dir / "in" / "big.nii.gz",
            mask=k.dir / "in" / "big_mask.nii.gz",
            ckpt=k.dir / "in" / "m.pt",
        ),
        env=env,
        as_limit_mb=limit,
        timeout=300,
    )
    if res.rc == 0:
        k.skip(f"an address space of {limit} MB was enough: not triggered")
    else:
        k.refused(res, "memory")


@pytest.mark.parametrize("fn", CASES.params())
def test_case_is_clean(request, fn, hostile_cli):
    """Clean: a refusal is one line naming the file and the fix, exit 2, nothing left; a run that
    should succeed does, with finite and right outputs."""
    hostile_cli.check(request.node.callspec.id, fn)
