"""Hostile scans given to `patch2loc predict`, judged on more than one call or on the outputs (the
second safety battery, HIGH 1-3, MEDIUM 8-9): outliers of 1e30, a folder run whose scan is replaced or
truncated, a failed overwrite, incomplete DICOM series, a file name that is not UTF-8, a missing or
misfit --seg and bad landmarks (refused before the compute starts). Concurrent runs, a full disk and
out of memory: tests/cli/test_battery_cli_resources.py. Slow: `make test-hostile`.

Where the issue leaves a choice (clip or refuse outliers; refuse or warn on an incomplete DICOM
series) either answer is clean, provided the outputs are finite and right.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

import pytest

from tests.helpers.hostile_cli import REPO_ENV, Cases, case_image, pre, pre_outputs, raw, raw_image, raw_outputs
from tests.helpers.hostile_files import dicom_series, nifti

pytestmark = pytest.mark.hostile
CASES = Cases()


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


@CASES.case("20:1", "raw_scan_outliers_1e30")
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


@CASES.case("20:1", "preprocessed_outliers_1e30")
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


@CASES.case("20:2", "folder_run_replaced_scan")
def _(k):
    argv = _folder_run(k)
    before = (k.dir / "out" / "a.nii.gz").read_bytes()
    data, affine = case_image(k)
    # another scan on the model's scale (its intensity check would refuse an off-scale one): the same values moved
    nifti(k.dir / "in" / "a.nii.gz", np.roll(data, 3, axis=0).astype(np.float32), affine)
    res = k.run(argv)
    if res.rc == 0 and (k.dir / "out" / "a.nii.gz").read_bytes() == before:
        k.find("HIGH", "a replaced scan was skipped: its outputs are from the old scan")
    k.succeeded(res, [k.dir / "out" / "a.nii.gz"])


@CASES.case("20:2", "folder_run_truncated_scan")
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


@CASES.case("20:2", "failed_overwrite_then_plain_run")
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


@CASES.case("20:3", "dicom_truncated_slice")
def _(k):
    _dicom_case(k, lambda f: f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2]))


@CASES.case("20:3", "dicom_malformed_slice")
def _(k):
    _dicom_case(k, lambda f: f.write_bytes(f.read_bytes()[:132] + b"\xff" * 400))


# --------------------------------------------------------------------------- MEDIUM 8-9


@CASES.case("20:8", "non_utf8_scan_in_folder_batch")
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


@CASES.case("20:9", "seg_missing")
def _(k):
    res = run_witnessed(k, raw(k, "--seg", k.dir / "in" / "nope.nii.gz"))
    k.refused(res, "nope.nii.gz")
    _fast(k, res, "a missing --seg")


@CASES.case("20:9", "seg_other_grid")
def _(k):
    nifti(k.dir / "in" / "seg.nii.gz", np.zeros((10, 10, 10), np.uint8))
    res = run_witnessed(k, raw(k, "--seg", k.dir / "in" / "seg.nii.gz"))
    k.refused(res, "seg.nii.gz")
    _fast(k, res, "--seg on another grid")


@CASES.case("20:9", "bad_landmarks")
def _(k):
    copy = k.dir / "in" / "run"
    shutil.copytree(k.fix["run"], copy)
    np.save(copy / "landmarks" / "T1.npy", np.array([5.0, np.nan, 1.0]))
    res = run_witnessed(k, raw(k, run=copy))
    k.refused(res, "T1.npy")
    _fast(k, res, "bad landmarks")


@pytest.mark.parametrize("fn", CASES.params())
def test_case_is_clean(request, fn, hostile_cli):
    """Clean: a refusal is one line naming the file and the fix, exit 2, nothing left; a run that
    should succeed does, with finite and right outputs."""
    hostile_cli.check(request.node.callspec.id, fn)
