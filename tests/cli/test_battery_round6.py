"""Hostile inputs, round 6: the wrong scan in a contrast channel, folders where nothing can be created,
trainings that cannot fit, settings blocks of the wrong types, the provenance of a multi-contrast
derivative, and a BIDS run in which every scan fails. Each case builds its inputs under folder/in and runs
the real entry point in a child process (tests/helpers/hostile_child.py's judge); each kind has its control
(expect 0). Slow: `make test-hostile`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile_child_fixture import Case, call
from tests.helpers.hostile_round6_files import slab, training_lists
from tests.helpers.hostile_surface_fixture import CLI, Checked

pytestmark = pytest.mark.hostile
ANAT, MASKS = Path("sub-02") / "anat", Path("derivatives") / "masks" / "sub-02" / "anat"
T1, T2 = ANAT / "sub-02_T1w.nii.gz", ANAT / "sub-02_T2w.nii.gz"
T1_MASK, T2_MASK = MASKS / "sub-02_space-T1w_desc-brain_mask.nii.gz", MASKS / "sub-02_space-T2w_desc-brain_mask.nii.gz"
NOWHERE = "/proc/self/fdinfo"  # a folder where nothing can be created, whoever runs the tests


def _bids(fix, folder: Path) -> Path:
    copy = folder / "in" / "bids"
    shutil.copytree(fix.bids[0], copy, symlinks=True)
    return copy


def _predict(t1=T1, t1_mask=T1_MASK, t2=T2, t2_mask=T2_MASK, *extra, edit=None):
    """predict of the fixture's T1T2 bundle on sub-02's scans (paths in the copied dataset, or made by
    edit(data, to) -> {name: file})."""

    def build(fix, folder):
        data = _bids(fix, folder)
        bundle = shutil.copy(fix.t1t2, folder / "in" / "t1t2.zip")
        files = {"t1": data / t1, "t1_mask": data / t1_mask, "t2": data / t2, "t2_mask": data / t2_mask}
        files.update(edit(data, folder / "in") if edit else {})
        return [*CLI, "predict", "--model", str(bundle), "--image", str(files["t1"]), "--mask", str(files["t1_mask"]),
                "--contrast", f"T2={files['t2']}", "--contrast-mask", f"T2={files['t2_mask']}",
                "--out", str(folder / "out" / "s.nii.gz"), "--device", "cpu", "--quiet", *extra]  # fmt: skip

    return build


def _copy_of_t1(data, to):
    return {"t2": shutil.copy(data / T1, to / "t2_copy.nii.gz")}


def _slab(data, to):
    scan, mask = slab(data / T2, data / T2_MASK, to)
    return {"t2": scan, "t2_mask": mask}


def _channels(folder: Path) -> str | None:
    """The control's summary names every scan and mask and records its channels' checks."""
    summary = json.loads((folder / "out" / "s_summary.json").read_text())
    scans = summary.get("inputs", {}).get("scans", {})
    if set(scans) != {"T1", "T2"} or not all(s.get("image") and s.get("mask") for s in scans.values()):
        return f"summary inputs {scans}"
    rims = summary["inputs"]["channels"]["rim_contrast"]
    return None if rims[0] < 0 < rims[1] else f"rim contrasts {rims}"


def _participant(bundle_of, *extra, edit=None):
    def build(fix, folder):
        data = _bids(fix, folder)
        if edit is not None:
            edit(data)
        return [*CLI, "bids", str(data), str(folder / "out" / "p2l"), "participant", "--model", str(bundle_of(fix)),
                "--mask-derivatives", str(data / "derivatives" / "masks"), "--device", "cpu", "--quiet",
                "--participant-label", "02", *extra]  # fmt: skip

    return build


def _sources(folder: Path) -> str | None:
    (sidecar,) = (folder / "out" / "p2l").glob("sub-02/anat/*_space-native_desc-anomaly_T1w.json")
    sources = json.loads(sidecar.read_text())["Sources"]
    want = {f"bids:raw:{T1.as_posix()}", f"bids:raw:{T2.as_posix()}", "bids:masks:" + T1_MASK.relative_to(
        "derivatives/masks").as_posix(), "bids:masks:" + T2_MASK.relative_to("derivatives/masks").as_posix()}  # fmt: skip
    return None if set(sources) == want else f"Sources {sources}"


def _constant_t1(data: Path) -> None:
    import nibabel as nib

    img = nib.load(data / T1)
    (data / T1).unlink()
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.float32), img.affine), data / T1)


MEM = {"PATCH2LOC_TRAIN_MEM_MB": "48000"}  # the workflow's training jobs


def _train(method: str, block: dict):
    def build(fix, folder):
        data = training_lists(folder / "in" / "data")
        return call("hostile_round6_files:train_block", method=method, block=block, data=str(data),
                    out=str(folder / "out"))  # fmt: skip

    return build


TINY = {"steps": 2, "val_every": 1, "val_batches": 1, "device": "cpu"}
TINY_AE = {**TINY, "size": 16, "width": 4, "bottleneck": 4, "latent": 8, "batch_size": 4}
TINY_P2L = {**TINY, "patches_per_step": 8, "patch_size": 4}


def _typed(name: str, method: str, block: dict, needle: str) -> Case:
    return Case(name, "types", _train(method, block), needle=needle, env=MEM)


def _memory(name: str, method: str, block: dict) -> Case:
    return Case(name, "training", _train(method, block), needle=f"{method} settings: training needs about", env=MEM)


def _out_dir(fix, folder):
    return [*CLI, "predict", "--model", str(fix.bids[1]), "--image", str(fix.bids[0] / T1),
            "--mask", str(fix.bids[0] / T1_MASK), "--out", f"{NOWHERE}/s.nii.gz", "--device", "cpu", "--quiet"]  # fmt: skip


CASES = [
    Checked("r6_mc_control", "contrasts", _predict(), expect=0, check=_channels),
    Case("r6_mc_same_file", "contrasts", _predict(t2=T1, t2_mask=T1_MASK), needle="same file as --image"),
    Case("r6_mc_same_bytes", "contrasts", _predict(edit=_copy_of_t1), needle="the same bytes"),
    Case(
        "r6_mc_other_subject",
        "contrasts",
        _predict(
            t2="sub-01/ses-1/anat/sub-01_ses-1_T2w.nii.gz",
            t2_mask="derivatives/masks/sub-01/ses-1/anat/sub-01_ses-1_space-T2w_desc-brain_mask.nii.gz",
        ),
        needle="different subjects",
    ),  # fmt: skip
    Case("r6_mc_swapped", "contrasts", _predict(T2, T2_MASK, T1, T1_MASK), needle="tissue order is not a T1's"),
    Case("r6_mc_slab", "contrasts", _predict(edit=_slab), needle="brain mask holds .* mL"),
    Case(
        "r6_bids_same_t2",
        "contrasts",
        _participant(lambda fix: fix.t1t2, edit=lambda d: shutil.copy(d / T1, d / T2)),
        expect=1,
        needle="the same bytes",
    ),  # fmt: skip
    Case(
        "r6_cache_control",
        "folders",
        lambda fix, folder: call("patch2loc.synth.anatomies:cache_dir"),
        expect=0,
        env={"PATCH2LOC_ANATOMY_CACHE": "out/cache"},
    ),  # fmt: skip
    Case(
        "r6_cache_nowhere",
        "folders",
        lambda fix, folder: call("patch2loc.synth.anatomies:anatomy_1mm", name="mrhead"),
        needle="nothing can be created there",
        env={"PATCH2LOC_ANATOMY_CACHE": NOWHERE},
    ),  # fmt: skip
    Case("r6_out_nowhere", "folders", _out_dir, needle="nothing can be created there"),
    Case("r6_train_control", "training", _train("AE", TINY_AE), expect=0, env=MEM),
    _memory("r6_train_ae_size_1024_batch_128", "AE", {**TINY_AE, "size": 1024, "batch_size": 128}),
    _memory("r6_train_p2l_patches_65536", "Patch2Loc", {**TINY_P2L, "patches_per_step": 65536, "patch_size": 32}),
    _memory("r6_train_dae_width_512", "DAE", {**TINY, "batch_size": 1024, "width": 512}),
    Case("r6_types_control", "types", _train("Patch2Loc", TINY_P2L), expect=0, env=MEM),
    _typed("r6_types_steps_text", "Patch2Loc", {**TINY_P2L, "steps": "300"}, "steps='300': must be a whole number"),
    _typed("r6_types_lr_inf", "Patch2Loc", {**TINY_P2L, "lr": float("inf")}, "lr=inf: must be a finite number"),
    _typed("r6_types_width_bool", "AE", {**TINY_AE, "width": True}, "width=True: must be a whole number"),
    _typed("r6_types_lr_diverges", "Patch2Loc", {**TINY_P2L, "lr": 1e30}, "diverged"),
    Checked("r6_provenance_control", "provenance", _participant(lambda fix: fix.t1t2), expect=0, check=_sources),
    Case(
        "r6_bids_every_scan_fails",
        "leftovers",
        _participant(lambda fix: fix.bids[1], edit=_constant_t1),
        expect=1,
        needle="constant",
    ),  # fmt: skip
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_passes(case, hostile_entry):
    """A refusal: exit 2 (the BIDS App: the number of scans that failed), one line naming the file or key and
    the fix, nothing written or left, inputs unchanged, under 1.5 GB; a control: exit 0."""
    hostile_entry.check(case, CASES, timeout=240.0)
