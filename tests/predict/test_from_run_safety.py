"""`predict --from-run`: per-output folders never collide, checks before preprocessing,
a copied run carries its atlas, a missing HD-BET get advice that fits."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml
from tests.helpers.hostile import run_with_model
from tests.helpers.safety import make_case, placeholder_atlas, predict_argv, refused

from patch2loc import cli


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """A finished run, a new raw scan and a matching T1 checkpoint (built once: ~30 s)."""
    return run_with_model(tmp_path_factory.mktemp("fromrun"))


def _argv(run, scan, ckpt, out, *extra, mask=True):
    return predict_argv(None, out, *extra, image=scan.image, mask=scan.mask if mask else False, ckpt=ckpt, from_run=run)


def _no_compute(*args, **kwargs):
    raise AssertionError("preprocessing started before the checks")


# ---------------------------------------------------------------- case 3: folders never collide


@pytest.mark.slow
def test_outputs_with_dots_in_their_names_keep_their_own_folders(real_run, capsys):
    base, run, scan = real_run
    outs = base / "outs"
    assert cli.main(_argv(run, scan, base / "m.pt", outs / "sub.01.nii.gz")) == 0
    first = {p.name: p.read_bytes() for p in (outs / "sub.01_preprocessed").iterdir()}
    first_heat = (outs / "sub.01.nii.gz").read_bytes()
    assert cli.main(_argv(run, scan, base / "m.pt", outs / "sub.02.nii.gz")) == 0
    per_scan = ["{}.nii.gz", "{}_components.csv", "{}_native.nii.gz", "{}_preprocessed", "{}_summary.json"]
    assert sorted(p.name for p in outs.iterdir()) == sorted(n.format(s) for s in ("sub.01", "sub.02") for n in per_scan)
    assert {p.name: p.read_bytes() for p in (outs / "sub.01_preprocessed").iterdir()} == first
    assert (outs / "sub.01.nii.gz").read_bytes() == first_heat
    assert {
        "image.nii.gz",
        "mask.nii.gz",
        "uncropped.nii.gz",
        "uncropped_mask.nii.gz",
        "native_mask.nii.gz",
        "normalized.nii.gz",
        "qc.json",
        "transform.tfm",
        "predict.json",
    } == set(first)
    # sub.01.nii would share sub.01_preprocessed/ with sub.01.nii.gz: refused, nothing touched
    refused(_argv(run, scan, base / "m.pt", outs / "sub.01.nii"), "belongs to the heatmap sub.01.nii.gz", base, capsys)


def test_a_folder_patch2loc_did_not_make_is_never_replaced(real_run, tmp_path, capsys, monkeypatch):
    base, run, scan = real_run
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_compute)
    (tmp_path / "mine_preprocessed").mkdir()
    (tmp_path / "mine_preprocessed" / "notes.txt").write_text("my own work")
    refused(
        _argv(run, scan, base / "m.pt", tmp_path / "mine.nii.gz"), "something other than patch2loc", tmp_path, capsys
    )


# ---------------------------------------------------------------- case 4: bad checkpoint, before preprocessing


def test_bad_checkpoint_fails_before_preprocessing(real_run, tmp_path, capsys, monkeypatch):
    base, run, scan = real_run
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_compute)
    (tmp_path / "bad.pt").write_bytes(b"\x80\x04garbage")
    refused(_argv(run, scan, tmp_path / "bad.pt", tmp_path / "h.nii.gz"), "bad.pt: cannot be read", tmp_path, capsys)


def test_t2_landmarks_with_a_t1_model(real_run, tmp_path, capsys, monkeypatch):
    base, run, scan = real_run
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_compute)
    shutil.copy(run / "landmarks" / "T1.npy", run / "landmarks" / "T2.npy")
    argv = _argv(run, scan, base / "m.pt", tmp_path / "h.nii.gz")
    argv[argv.index("--modality") + 1] = "T2"
    try:
        refused(argv, "trained on T1 scans, not T2", tmp_path, capsys)
    finally:
        (run / "landmarks" / "T2.npy").unlink()


# ---------------------------------------------------------------- case 8: copied runs, HD-BET


def _fake_run(workdir):
    """A run folder with its config and landmarks, but no recorded atlas yet."""
    run = workdir / "results" / "r"
    (run / "landmarks").mkdir(parents=True)
    np.save(run / "landmarks" / "T1.npy", np.vstack([np.linspace(1, 100, 11), [1, *range(10, 100, 10), 99]]))
    cfg = {
        "preprocess": {"spacing": [6.0, 6.0, 6.0], "target_shape": [16, 16, 4]},
        "normalize": {"percentile": 98},
        "atlas": {"image": "data/atlas/T1_brain.nii.gz", "mask": "data/atlas/brain_mask.nii.gz"},
    }
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
    return run


def test_run_without_its_recorded_atlas_names_the_rule_that_records_it(tmp_path, capsys, monkeypatch):
    from patch2loc.run.layout import RunLayout

    c = make_case(tmp_path / "in")
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_compute)
    run = _fake_run(tmp_path / "wf")
    argv = predict_argv(c, tmp_path / "o" / "h.nii.gz", from_run=run)
    line = refused(argv, "record_atlas", tmp_path, capsys)
    assert RunLayout(run).atlas_image in line  # never a guess among other places (the config's path is not tried)
    # following the advice gets past the atlas (the next check, the checkpoint, speaks)
    placeholder_atlas(run / "atlas" / "image.nii.gz")
    (tmp_path / "in" / "bad.pt").write_bytes(b"garbage")
    argv[argv.index("--checkpoint") + 1] = str(tmp_path / "in" / "bad.pt")
    refused(argv, "bad.pt: cannot be read", tmp_path, capsys)


def test_a_copied_run_carries_its_atlas(tmp_path):
    from patch2loc.predict.runchain import RunChain

    run = _fake_run(tmp_path / "wf")
    placeholder_atlas(run / "atlas" / "image.nii.gz")
    placeholder_atlas(run / "atlas" / "mask.nii.gz")
    copy = tmp_path / "elsewhere" / "demo_copy"
    shutil.copytree(run, copy)
    shutil.rmtree(run)
    chain = RunChain.open(copy, "T1")
    assert (chain.atlas_image, chain.atlas_mask) == (copy / "atlas" / "image.nii.gz", copy / "atlas" / "mask.nii.gz")


def test_missing_hdbet_suggests_mask(real_run, tmp_path, capsys, monkeypatch):
    base, run, scan = real_run
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_compute)
    line = refused(_argv(run, scan, base / "m.pt", tmp_path / "h.nii.gz", mask=False), "HD-BET", tmp_path, capsys)
    assert "--mask" in line and str(scan.image) in line
