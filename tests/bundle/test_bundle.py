"""Model bundles: `patch2loc export` and `patch2loc predict --model`.

The run here is small and built in a second (tiny checkpoints, a copied "preprocessing":
fake_chain.fake_prepare); the real chain on a workflow's run is test_workflow's slow tiny run.
Every hostile bundle is refused with one line and exit 2, before any output, and leaves nothing
behind (not even its unpacked copy in the temporary folder).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.helpers.bundle import THRESHOLDS, make_run, model_argv, rewrite
from tests.helpers.fake_chain import fake_prepare
from tests.helpers.safety import make_case, predict_argv, refused

from patch2loc import cli
from patch2loc.run.layout import RunLayout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The case, its run and the run's bundle, made once (the checkpoints are a full ResNet-18)."""
    base = tmp_path_factory.mktemp("bundle")
    c = make_case(base / "in")
    run = make_run(base / "wf", c)
    assert cli.main(["export", str(run), "--modality", "T1", "--out", str(base / "t1.zip"), "--quiet"]) == 0
    return c, run, base / "t1.zip"


@pytest.fixture()
def case(built, tmp_path, monkeypatch):
    """(case files, run, a copy of the bundle in tmp_path); the temporary folder is inside tmp_path,
    so `refused` sees a bundle's unpacked copy if one were left behind."""
    c, run, bundle = built
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", fake_prepare)
    (tmp_path / "b").mkdir()
    shutil.copy(bundle, tmp_path / "b" / "t1.zip")
    return c, run, tmp_path / "b" / "t1.zip"


# ---------------------------------------------------------------- export


def test_export_holds_every_member_listed_with_its_sha256(case, tmp_path):
    c, run, bundle = case
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        settings = json.loads(zf.read("settings.json"))
        assert names == {
            "manifest.json",
            "settings.json",
            "landmarks.npy",
            "versions.txt",
            "atlas/image.nii.gz",
            "atlas/mask.nii.gz",
            "folds/fold0.pt",
            "folds/fold1.pt",
        }
        assert set(manifest["members"]) == names - {"manifest.json"}
        for name, entry in manifest["members"].items():
            data = zf.read(name)
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])
        weights = torch.load(io.BytesIO(zf.read("folds/fold1.pt")), weights_only=True)
    trained = torch.load(RunLayout(run).checkpoint("T1", 1), weights_only=True)
    assert "optimizer" in trained and weights.keys() == trained.keys() - {"optimizer", "loss_rows"}
    assert all(torch.equal(weights["model"][k], v) for k, v in trained["model"].items())
    assert (manifest["method"], manifest["modality"]) == ("Patch2Loc", "T1")
    assert [(f["fold"], f["threshold"]) for f in settings["folds"]] == list(THRESHOLDS.items())
    assert settings["heatmap"] == {"median_size": 3, "stride": 1, "centres": "dilated"}
    # the same run exported again: the same bytes (fixed member dates)
    assert cli.main(["export", str(run), "--modality", "T1", "--out", str(tmp_path / "again.zip"), "--quiet"]) == 0
    assert (tmp_path / "again.zip").read_bytes() == bundle.read_bytes()


def test_export_refuses_a_run_without_thresholds_and_an_existing_out(case, tmp_path, capsys):
    c, run, bundle = case
    run = Path(shutil.copytree(run, tmp_path / "wf" / "r"))  # the module's run stays whole
    Path(RunLayout(run).threshold("Patch2Loc", "T1", "fold1")).unlink()
    refused(
        ["export", str(run), "--modality", "T1", "--out", str(tmp_path / "new.zip")], "score_healthy", tmp_path, capsys
    )
    refused(["export", str(run), "--modality", "T1", "--out", str(bundle)], "never replaces", tmp_path, capsys)


# ---------------------------------------------------------------- predict --model


@pytest.mark.parametrize("as_folder", [False, True])
def test_bundle_gives_the_outputs_of_from_run(case, tmp_path, as_folder):
    c, run, bundle = case
    if as_folder:
        assert cli.main(["export", str(run), "--modality", "T1", "--out", str(tmp_path / "folder"), "--quiet"]) == 0
        bundle = tmp_path / "folder"
    moved = tmp_path / "elsewhere" / bundle.name
    moved.parent.mkdir()
    shutil.move(bundle, moved)
    assert cli.main(model_argv(c, moved, tmp_path / "m" / "x.nii.gz")) == 0
    assert cli.main(predict_argv(c, tmp_path / "r" / "x.nii.gz", ckpt=False, from_run=run)) == 0
    for name in ("x.nii.gz", "x_lesions.nii.gz", "x_native.nii.gz", "x_native_lesions.nii.gz", "x_components.csv"):
        assert (tmp_path / "m" / name).read_bytes() == (tmp_path / "r" / name).read_bytes(), name
    summary = json.loads((tmp_path / "m" / "x_summary.json").read_text())
    assert summary["threshold"] == np.mean(list(THRESHOLDS.values())) and summary["median_size"] == 3
    assert summary["checkpoints"] == [f"{moved}:folds/fold0.pt", f"{moved}:folds/fold1.pt"]
    assert os.listdir(tmp_path / "tmp") == []  # the unpacked copy is gone


def test_bundle_folds_and_modality_are_checked(case, tmp_path, capsys):
    c, run, bundle = case
    refused(model_argv(c, bundle, tmp_path / "o.nii.gz", "--modality", "T2"), "a T1 model bundle", tmp_path, capsys)
    refused(model_argv(c, bundle, tmp_path / "o.nii.gz", "--folds", "3"), "no fold(s) [3]", tmp_path, capsys)
    refused(
        model_argv(c, bundle, tmp_path / "o.nii.gz", "--checkpoint", str(c["ckpt"])),
        "drop --checkpoint",
        tmp_path,
        capsys,
    )


# ---------------------------------------------------------------- hostile bundles


class Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def _pickled_weights(m):
    buf = io.BytesIO()
    torch.save({"model": Payload(), "patch_size": 2}, buf)
    m["folds/fold0.pt"] = buf.getvalue()


def _pickled_landmarks(m):
    buf = io.BytesIO()
    np.save(buf, np.array([Payload()] * 2, dtype=object), allow_pickle=True)
    m["landmarks.npy"] = buf.getvalue()


def _symlink(m):
    info = zipfile.ZipInfo("versions.txt")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    m.pop("versions.txt")
    return [(info, b"/etc/passwd")]


HOSTILE = {
    "tampered member": (
        lambda m: m.update({"settings.json": m["settings.json"].replace(b'"median_size": 3', b'"median_size": 5')}),
        False,
        "settings.json differs from its manifest entry",
    ),
    "unknown setting": (
        lambda m: m.update(
            {"settings.json": m["settings.json"].replace(b'"spacing"', b'"n4_iteration": 3, "spacing"')}
        ),
        True,
        "unknown key(s) ['n4_iteration']",
    ),
    "tampered weights": (
        lambda m: m.update({"folds/fold1.pt": m["folds/fold1.pt"][:-1] + b"x"}),
        False,
        "folds/fold1.pt differs",
    ),
    "escaping member": (lambda m: m.update({"../evil.txt": b"x"}), False, "outside the bundle"),
    "absolute member": (lambda m: m.update({"/tmp/evil.txt": b"x"}), False, "outside the bundle"),
    "unknown member": (lambda m: m.update({"run.sh": b"x"}), False, "is not a member a bundle holds"),
    "member not in the manifest": (lambda m: m.update({"folds/fold7.pt": b"x"}), False, "not in the manifest"),
    "member missing": (lambda m: m.pop("atlas/mask.nii.gz"), False, "which the bundle lacks"),
    "duplicate member": (lambda m: [(zipfile.ZipInfo("versions.txt"), b"two")], False, "appears twice"),
    "symbolic link": (_symlink, False, "symbolic link"),
    "missing manifest": (lambda m: m.pop("manifest.json"), False, "no manifest.json"),
    "pickled weights": (_pickled_weights, True, "could run code"),
    "pickled landmarks": (_pickled_landmarks, True, "not a landmarks file"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_bundle_is_refused_with_one_line_and_nothing_written(case, tmp_path, capsys, kind):
    c, run, bundle = case
    change, rehash, needle = HOSTILE[kind]
    with pytest.warns(UserWarning) if kind == "duplicate member" else _nothing():
        rewrite(bundle, change, rehash)
    line = refused(model_argv(c, bundle, tmp_path / "out" / "x.nii.gz"), needle, tmp_path, capsys)
    assert str(bundle) in line
    assert not (tmp_path / "out").exists() and not Path("pwned").exists()


def test_declared_sizes_are_bounded(case, tmp_path, capsys, monkeypatch):
    c, run, bundle = case
    monkeypatch.setenv("PATCH2LOC_MAX_CHECKPOINT_MB", "0.001")  # the tiny weights are about 50 kB
    refused(model_argv(c, bundle, tmp_path / "x.nii.gz"), "declares", tmp_path, capsys)


def test_folder_bundle_with_a_link_is_refused(case, tmp_path, capsys):
    c, run, bundle = case
    assert cli.main(["export", str(run), "--modality", "T1", "--out", str(tmp_path / "folder"), "--quiet"]) == 0
    (tmp_path / "folder" / "versions.txt").unlink()
    (tmp_path / "folder" / "versions.txt").symlink_to(tmp_path / "in" / "image.nii.gz")
    refused(model_argv(c, tmp_path / "folder", tmp_path / "x.nii.gz"), "symbolic link", tmp_path, capsys)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
