"""A model of several contrasts (a T1T2 bundle), crafted: the second contrast's scan and mask, the folds'
per-contrast training ranges and channels, and the bundle's contrast list. Every input is checked before
any registration (the chain is replaced by one that fails the test), and each refusal is one line, exit 2,
nothing written, no input changed. Before, the second contrast got a header read only, and was found
wrong after the reference scan had been registered."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pytest

from tests.helpers.bundle import rewrite
from tests.helpers.safety import refused
from tests.helpers.settings import with_config

pytest.importorskip("bids")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from tests.helpers.bids import demo_t1t2, make_bundle

    base = tmp_path_factory.mktemp("contrasts")
    return *demo_t1t2(base), make_bundle(base / "one", "T2")


def _no_registration(*args, **kwargs):
    raise AssertionError("a registration started before every input was checked")


@pytest.fixture
def case(made, tmp_path, monkeypatch):
    """A copy of sub-02's four files under tmp_path/in, the bundle, and the argv that scores them."""
    raw, bundle, _ = made
    anat, masks = raw / "sub-02" / "anat", raw / "derivatives" / "masks" / "sub-02" / "anat"
    files = {
        "t1": anat / "sub-02_T1w.nii.gz",
        "t1_mask": masks / "sub-02_space-T1w_desc-brain_mask.nii.gz",
        "t2": anat / "sub-02_T2w.nii.gz",
        "t2_mask": masks / "sub-02_space-T2w_desc-brain_mask.nii.gz",
    }
    (tmp_path / "in").mkdir()
    files = {k: shutil.copy(v, tmp_path / "in" / v.name) for k, v in files.items()}
    files["bundle"] = shutil.copy(bundle, tmp_path / "in" / bundle.name)

    def argv(**given):
        f = {**files, **given}
        return [
            *("predict", "--model", str(f["bundle"]), "--image", str(f["t1"]), "--mask", str(f["t1_mask"])),
            *("--contrast", f"T2={f['t2']}", "--contrast-mask", f"T2={f['t2_mask']}"),
            *("--out", str(tmp_path / "out" / "s.nii.gz"), "--device", "cpu", "--quiet"),
        ]

    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_registration)
    return files, argv


def _write(path, data, affine, **header):
    img = nib.Nifti1Image(data, affine)
    for key, value in header.items():
        getattr(img, key)(value)
    nib.save(img, path)
    return path


@pytest.mark.parametrize(
    "what, needle",
    [
        ("constant", "the raw scan is constant"),
        ("empty_mask", "the brain mask is empty"),
        ("mask_grid", "brain mask shape"),
        ("sheared", "shear"),
        ("two_geometries", "nibabel and ITK read different geometries"),
    ],
)
def test_a_bad_second_contrast_is_refused_before_any_registration(case, tmp_path, capsys, what, needle):
    files, argv = case
    t2, t2_mask = nib.load(files["t2"]), nib.load(files["t2_mask"])
    data, affine = np.asarray(t2.dataobj, np.float32), t2.affine
    bad = tmp_path / "in" / "bad.nii.gz"
    if what == "constant":
        given = {"t2": _write(bad, np.zeros_like(data), affine)}
    elif what == "empty_mask":
        given = {"t2_mask": _write(bad, np.zeros(t2_mask.shape, np.uint8), affine)}
    elif what == "mask_grid":
        given = {"t2_mask": _write(bad, np.ones((5, 5, 5), np.uint8), affine)}
    elif what == "sheared":
        sheared = affine.copy()
        sheared[0, 1] = 0.5 * affine[0, 0]
        given = {"t2": _write(bad, data, sheared)}
    else:
        moved = affine.copy()
        moved[:3, 3] += 20.0
        given = {"t2": _write(bad, data, affine, set_qform=moved)}
    line = refused(argv(**given), needle, tmp_path, capsys)
    assert "bad.nii.gz" in line


def test_a_second_contrast_beyond_the_memory_budget_is_refused_from_its_header(case, tmp_path, capsys, monkeypatch):
    files, argv = case
    t2 = nib.load(files["t2"])
    big = _write(tmp_path / "in" / "big.nii.gz", np.ones((160, 160, 160), np.uint8), t2.affine)
    monkeypatch.setenv("PATCH2LOC_MEMORY_BUDGET_MB", "64")
    line = refused(argv(t2=big, t2_mask=big), "more than the memory budget", tmp_path, capsys)
    assert "big.nii.gz: predicting this 160 x 160 x 160 scan" in line


@pytest.mark.parametrize(
    "ranges, needle",
    [
        ("not a list", "intensity_ranges is 'not a list'"),
        ([{"p1": 0.0, "p99": 1.0}, {"p1": float("nan"), "p99": 1.0}], "intensity_ranges[1] nan"),
        ([{"p1": 0.0, "p99": 1.0}, "x"], "intensity_ranges[1] is 'x'"),
        ([{"p1": 0.0, "p99": 1.0}] * 3, "holds 3 ranges for its 2 contrasts"),
    ],
)
def test_per_contrast_training_ranges_are_checked_when_the_fold_is_read(case, tmp_path, capsys, ranges, needle):
    """Before: never validated; a string there ended in "unexpected TypeError" after the registration."""
    files, argv = case
    bad = with_config(files["bundle"], tmp_path / "in" / "r.zip", intensity_ranges=ranges)
    refused(argv(bundle=bad), needle, tmp_path, capsys)


def test_a_fold_of_one_channel_in_a_two_contrast_bundle_is_refused_before_registration(case, made, tmp_path, capsys):
    """The folds of a one-contrast (T2) model, relabelled T1T2, in the T1T2 bundle: their weights fit their
    config, but not the stack of two contrasts the bundle makes (found while scoring, before)."""
    import io
    import zipfile

    import torch

    files, argv = case
    with zipfile.ZipFile(made[2]) as one:
        folds = {n: one.read(n) for n in one.namelist() if n.startswith("folds/")}
    dest = shutil.copy(files["bundle"], tmp_path / "in" / "c.zip")

    def change(members):
        for name, data in folds.items():
            ckpt = torch.load(io.BytesIO(data), weights_only=True)
            ckpt["modality"] = ckpt["config"]["modality"] = "T1T2"
            out = io.BytesIO()
            torch.save(ckpt, out)
            members[name] = out.getvalue()

    rewrite(dest, change, rehash=True)
    refused(argv(bundle=dest), "but its run or bundle stacks 2 contrast(s) ['T1', 'T2']", tmp_path, capsys)


def _contrasts(bundle, dest, contrasts):
    shutil.copy(bundle, dest)

    def change(members):
        settings = json.loads(members["settings.json"])
        settings["contrasts"] = contrasts
        settings["landmarks"] = {c: f"landmarks/{c}.npy" for c in contrasts}
        members.update({f"landmarks/{c}.npy": members["landmarks/T2.npy"] for c in contrasts})
        members["settings.json"] = json.dumps(settings).encode()

    rewrite(dest, change, rehash=True)
    return dest


def test_a_bundle_naming_an_unknown_contrast_is_refused_by_predict_and_the_bids_app(case, made, tmp_path, capsys):
    """Before: the BIDS App's pairing looked up FLAIR's suffix: "unexpected KeyError" (exit 1)."""
    from tests.helpers.bids import participant_argv

    files, argv = case
    raw = made[0]
    bad = _contrasts(files["bundle"], tmp_path / "in" / "flair.zip", ["T1", "FLAIR"])
    refused(argv(bundle=bad), "of several of those contrasts", tmp_path, capsys)
    out = tmp_path / "bids_out"
    refused(participant_argv(raw, out, bad), "of several of those contrasts", tmp_path, capsys)


def test_a_fold_of_another_grid_is_refused_before_registration(case, tmp_path, capsys):
    """A fold trained on 16 x 16 x 8 in a bundle whose chain makes 32^3: before, found after the registration."""
    files, argv = case
    bad = with_config(files["bundle"], tmp_path / "in" / "g.zip", volume_shape=[16, 16, 8])
    refused(argv(bundle=bad), "it was trained on volumes of shape (16, 16, 8)", tmp_path, capsys)
