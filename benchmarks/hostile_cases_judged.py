"""The cases of the hostile-input battery that need more than one call or a judgement of the
outputs (HIGH 1-3, MEDIUM 6-9); the one-line refusals and the LOW list are in hostile_cases_refusals.py.

Where the issue leaves a choice (clip or refuse outliers; refuse or warn on an incomplete DICOM
series) either answer is clean, provided the outputs are finite and right.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hostile_cases import REPO_ENV, case, case_image, pre, pre_outputs, raw, raw_image, raw_outputs, train, wait_for
from hostile_files import dicom_series, nifti

TEMP = ".p2l-tmp-"


def _clipped_or_refused(k, res, outputs):
    """Outliers: a refusal (exit 2, one line) or finite outputs (clipping, with its one warning
    line) are both clean."""
    if res.rc == 2:
        k.refused(res)
    else:
        k.succeeded(res, outputs, lines=1)


def _summary(k, stem="h") -> dict:
    return json.loads((k.dir / "out" / f"{stem}_summary.json").read_text())


COMPUTE_HOOK = """
import os
mark = os.environ.get("P2L_BATTERY_COMPUTE_MARK")
if mark:  # the battery's witness: record when the scan's compute starts (no timing guesswork)
    import patch2loc.methods.patch2loc.heatmap as heatmap
    import patch2loc.predict.runchain as runchain

    def _marked(name, f):
        def call(*args, **kwargs):
            with open(mark, "a") as out:
                out.write(name + "\\n")
            return f(*args, **kwargs)
        return call

    runchain.RunChain.prepare = _marked("registration", runchain.RunChain.prepare)
    heatmap.score_volume = _marked("scoring", heatmap.score_volume)
"""


def run_witnessed(k, argv):
    """k.run with a sitecustomize that writes a line to k.dir/computed when the registration or
    the scoring starts; `_fast` then knows whether a refusal came before the compute."""
    hook = k.dir / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(COMPUTE_HOOK)
    return k.run(
        argv,
        env={
            "PYTHONPATH": os.pathsep.join([str(hook), REPO_ENV["PYTHONPATH"]]),
            "P2L_BATTERY_COMPUTE_MARK": str(k.dir / "computed"),
        },
    )


def _fast(k, res, what: str) -> None:
    """A refusal that needs no compute must come before the scan's compute starts."""
    mark = k.dir / "computed"
    if mark.exists():
        started = ", ".join(dict.fromkeys(mark.read_text().split()))
        k.find("MEDIUM", f"{what} refused only after the compute had started ({started})")


# --------------------------------------------------------------------------- HIGH


@case("20:1", "raw_scan_outliers_1e30")
def _(k):
    data, affine = raw_image(k)
    data = data.astype(np.float32)
    inside = np.argwhere(data > np.percentile(data, 60))[:: max(1, int(np.sum(data > np.percentile(data, 60))) // 10)]
    for i, j, z in inside[:10]:
        data[i, j, z] = 1e30
    nifti(k.dir / "in" / "outliers.nii.gz", data, affine)
    res = k.run(raw(k, image=k.dir / "in" / "outliers.nii.gz"))
    _clipped_or_refused(k, res, raw_outputs(k))
    if res.rc == 0 and "from_run_ml" in k.shared:
        ml, clean = _summary(k)["lesion_volume_ml"], k.shared["from_run_ml"]
        if abs(ml - clean) > 0.5 * clean + 0.5:
            k.find("HIGH", f"lesion volume {ml:.1f} mL vs {clean:.1f} mL for the clean scan")


@case("20:1", "preprocessed_outliers_1e30")
def _(k):
    data, affine = case_image(k)
    data[4:6, 4:9, 1] = 1e30
    nifti(k.dir / "in" / "outliers.nii.gz", data, affine)
    _clipped_or_refused(k, k.run(pre(k, image=k.dir / "in" / "outliers.nii.gz")), pre_outputs(k))


def _folder_run(k):
    data, affine = case_image(k)
    for name, seed in (("a", 1), ("b", 2)):
        nifti(
            k.dir / "in" / f"{name}.nii.gz",
            np.random.default_rng(seed).normal(1, 0.3, data.shape).astype(np.float32),
            affine,
        )
    shutil.copy(k.fix["mask"], k.dir / "in" / "mask.nii.gz")
    (k.dir / "in" / "list.csv").write_text("image,mask\na.nii.gz,mask.nii.gz\nb.nii.gz,mask.nii.gz\n")
    argv = pre(k, "--threshold", "3", out=k.dir / "out")
    argv[argv.index("--image") + 1] = k.dir / "in" / "list.csv"
    del argv[argv.index("--mask") : argv.index("--mask") + 2]
    assert k.run(argv).rc == 0
    return argv


@case("20:2", "folder_run_replaced_scan")
def _(k):
    argv = _folder_run(k)
    before = (k.dir / "out" / "a.nii.gz").read_bytes()
    data, affine = case_image(k)
    nifti(k.dir / "in" / "a.nii.gz", np.random.default_rng(9).normal(2, 0.6, data.shape).astype(np.float32), affine)
    res = k.run(argv)
    if res.rc == 0 and (k.dir / "out" / "a.nii.gz").read_bytes() == before:
        k.find("HIGH", "a replaced scan was skipped: its outputs are from the old scan")
    k.succeeded(res, [k.dir / "out" / "a.nii.gz"])


@case("20:2", "folder_run_truncated_scan")
def _(k):
    argv = _folder_run(k)
    image = k.dir / "in" / "a.nii.gz"
    image.write_bytes(image.read_bytes()[:300])
    res = k.run(argv)
    if res.rc == 0:
        k.find("HIGH", "a truncated scan was skipped as done (exit 0)")
    elif res.rc != 1 or len(res.err) != 1:
        k.find("MEDIUM", f"exit {res.rc} with {len(res.err)} lines, expected 1 and one line")
    if (k.dir / "out" / "a_summary.json").exists():
        k.find("MEDIUM", "the truncated scan's old outputs are still there")


@case("20:2", "failed_overwrite_then_plain_run")
def _(k):
    argv = _folder_run(k)
    image = k.dir / "in" / "a.nii.gz"
    image.write_bytes(image.read_bytes()[:300])
    k.run([*argv, "--overwrite"])
    res = k.run(argv)
    if res.rc == 0:
        k.find("HIGH", "after a failed --overwrite the next run reports 0 failed over stale outputs")


def _dicom_case(k, damage):
    files = dicom_series(k.fix["raw"], k.dir / "in" / "series")
    damage(files[len(files) // 2])
    res = k.run(raw(k, image=k.dir / "in" / "series"))
    if res.rc == 2:
        k.refused(res, "series")
        return
    k.succeeded(res, raw_outputs(k), lines=1)  # a loud warning is allowed
    if res.rc == 0:
        import nibabel as nib

        depth = nib.load(k.dir / "out" / "h_native.nii.gz").shape[2]
        if depth != len(files):
            k.find("HIGH", f"native outputs have {depth} slices, the series {len(files)} (one dropped silently)")
        if not res.err:
            k.find("HIGH", "an incomplete series accepted without a word")


@case("20:3", "dicom_truncated_slice")
def _(k):
    _dicom_case(k, lambda f: f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2]))


@case("20:3", "dicom_malformed_slice")
def _(k):
    _dicom_case(k, lambda f: f.write_bytes(f.read_bytes()[:132] + b"\xff" * 400))


# --------------------------------------------------------------------------- MEDIUM


@case("20:6", "second_predict_same_out")
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


def _tmpfs(k, size: str) -> Path | None:
    disk = k.dir / "disk"
    disk.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True
        ).returncode
    ):
        k.skip("needs root and mount -t tmpfs")
        return None
    return disk


@case("20:7", "disk_full_predict")
def _(k):
    disk = _tmpfs(k, "12k")
    if disk is None:
        return
    try:
        k.refused(k.run(pre(k, "--png", disk / "h.png", out=disk / "h.nii.gz")), "no space", out=disk)
    finally:
        subprocess.run(["umount", str(disk)])


@case("20:7", "disk_full_predict_from_run")
def _(k):
    disk = _tmpfs(k, "150k")  # the chain's files fit, the outputs do not (measured: 268 KB in all)
    if disk is None:
        return
    try:
        k.refused(k.run(raw(k, out=disk / "h.nii.gz")), "no space", out=disk)
    finally:
        subprocess.run(["umount", str(disk)])


@case("20:7", "disk_full_train")
def _(k):
    disk = _tmpfs(k, "300k")
    if disk is None:
        return
    try:
        res = k.run(train(k, out=disk / "run"))
        k.refused(res, "space", out=disk / "none")
        csv, last = disk / "run" / "loss.csv", disk / "run" / "last.pt"
        if csv.exists():
            import torch

            step = torch.load(last, weights_only=True)["step"] if last.exists() else 0
            rows = [int(r.split(",")[0]) for r in csv.read_text().splitlines()[1:]]
            if rows and max(rows) > step:
                k.find("MEDIUM", f"loss.csv has step {max(rows)} but the last checkpoint is at step {step}")
    finally:
        subprocess.run(["umount", str(disk)])


@case("20:7", "train_corrupt_loss_csv")
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


@case("20:7", "out_of_memory")
def _(k):
    """A 256 x 256 x 160 scan under an address-space limit 60 MB above what the imports and the
    model take (one thread, two malloc arenas: little virtual memory reserved up front). Where
    it bites depends on the build; wherever, the answer must be one line about memory, exit 2.
    The brain is 27 voxels and post-processing is off, so a run the limit did not stop is quick."""
    import torch

    from patch2loc.methods.patch2loc.model import Patch2LocNet

    shape = (256, 256, 160)
    nifti(k.dir / "in" / "big.nii.gz", np.random.default_rng(0).normal(1, 0.3, shape).astype(np.float32))
    brain = np.zeros(shape, np.uint8)
    brain[100:103, 100:103, 80:83] = 1
    nifti(k.dir / "in" / "big_mask.nii.gz", brain)
    torch.save(
        {"model": Patch2LocNet(4).state_dict(), "patch_size": 4, "config": {"volume_shape": list(shape)}},
        k.dir / "in" / "m.pt",
    )
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
            "--region",
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


@case("20:8", "non_utf8_scan_in_folder_batch")
def _(k):
    folder = k.dir / "in" / "scans"
    folder.mkdir()
    shutil.copy(k.fix["raw"], folder / "good.nii.gz")
    shutil.copy(k.fix["raw"], folder / (os.fsdecode(b"b\xff") + ".nii.gz"))
    argv = raw(k, "--skull-strip", "none", image=folder, mask=None, out=k.dir / "out")
    res = k.run(argv)
    if res.rc != 1 or len(res.err) != 1 or "UTF-8" not in (res.err or [""])[0]:
        k.find("MEDIUM", f"exit {res.rc}, {len(res.err)} lines: {(res.err or [''])[-1][:100]}")
    if not (k.dir / "out" / "good_summary.json").exists():
        k.find("MEDIUM", "the good scan of the batch was not scored")


@case("20:9", "seg_missing")
def _(k):
    res = run_witnessed(k, raw(k, "--seg", k.dir / "in" / "nope.nii.gz"))
    k.refused(res, "nope.nii.gz")
    _fast(k, res, "a missing --seg")


@case("20:9", "seg_other_grid")
def _(k):
    nifti(k.dir / "in" / "seg.nii.gz", np.zeros((10, 10, 10), np.uint8))
    res = run_witnessed(k, raw(k, "--seg", k.dir / "in" / "seg.nii.gz"))
    k.refused(res, "seg.nii.gz")
    _fast(k, res, "--seg on another grid")


@case("20:9", "bad_landmarks")
def _(k):
    copy = k.dir / "in" / "run"
    shutil.copytree(k.fix["run"], copy)
    np.save(copy / "landmarks" / "T1.npy", np.array([5.0, np.nan, 1.0]))
    res = run_witnessed(k, raw(k, run=copy))
    k.refused(res, "T1.npy")
    _fast(k, res, "bad landmarks")
