"""The command line on tiny NIfTI files and a tiny checkpoint."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from patch2loc import cli
from patch2loc.methods.patch2loc.heatmap import score_volume
from patch2loc.scoring import postprocess
from patch2loc.methods.patch2loc.model import Patch2LocNet

from patch2loc.checks.intensities import training_range
from tests.helpers.checkpoints import NORMALISED, as_written
from tests.helpers.safety import finished_run as _finished_run, predict_argv

SHAPE = (16, 16, 4)  # patch_size_for(16) = 2; the model uses 2 to avoid the patch-size warning


@pytest.fixture()
def case(tmp_path: Path):
    rng = np.random.default_rng(0)
    affine = np.diag([1.5, 1.0, 2.0, 1.0])
    affine[:3, 3] = (-10.0, 5.0, 3.0)
    image = rng.normal(1.0, 0.3, SHAPE).astype(np.float32)
    mask = np.zeros(SHAPE, np.uint8)
    mask[4:12, 3:13, :] = 1
    nib.save(nib.Nifti1Image(image, affine), tmp_path / "image.nii.gz")
    nib.save(nib.Nifti1Image(mask, affine), tmp_path / "mask.nii.gz")
    torch.manual_seed(0)
    net = Patch2LocNet(2).eval()
    trained_on = training_range(image[None], mask[None] > 0)  # as training records it
    ckpt = {"model": net.state_dict(), "patch_size": 2, "config": {"intensity_range": trained_on}}
    torch.save(as_written(ckpt, grid=SHAPE), tmp_path / "model.pt")
    return types.SimpleNamespace(
        dir=tmp_path, image=image, mask=mask.astype(bool), affine=affine, net=net, ckpt=tmp_path / "model.pt"
    )


def _predict_args(c, out: Path, *extra: str) -> list[str]:
    return predict_argv(None, out, *extra, image=c.dir / "image.nii.gz", mask=c.dir / "mask.nii.gz", ckpt=c.ckpt)


@pytest.mark.parametrize("command", [[], ["train"], ["predict"]])
def test_help(command):
    # a fresh interpreter: --help must not need torch's training code to import
    proc = subprocess.run(
        [sys.executable, "-m", "patch2loc.cli", *command, "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: patch2loc" in proc.stdout
    if command:
        assert "--out" in proc.stdout


def test_predict_end_to_end(case, tmp_path):
    out, png = tmp_path / "out" / "heat.nii.gz", tmp_path / "out" / "heat.png"
    assert cli.main(_predict_args(case, out, "--png", str(png), "--amp", "none")) == 0
    img = nib.load(out)
    np.testing.assert_allclose(img.affine, case.affine)
    assert img.shape == SHAPE
    expect = postprocess(score_volume(case.net, case.image, case.mask, amp="none", device="cpu").score, case.mask, 7)
    np.testing.assert_allclose(np.asarray(img.dataobj), expect, atol=1e-5)
    assert (np.asarray(img.dataobj)[~case.mask] == 0).all()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "heat.nii.gz",
        "heat.png",
        "heat_components.csv",
        "heat_summary.json",
    ]  # no temp files


def test_predict_raw_and_stride(case, tmp_path):
    out = tmp_path / "raw.nii.gz"
    assert (
        cli.main(_predict_args(case, out, "--no-postprocess", "--stride", "2", "--centres", "all", "--amp", "none"))
        == 0
    )
    expect = score_volume(case.net, case.image, case.mask, stride=2, region="all", amp="none", device="cpu")
    np.testing.assert_allclose(np.asarray(nib.load(out).dataobj), expect.score, atol=1e-5)


def test_predict_refuses_other_training_shape_unless_allowed(case, tmp_path, capsys):
    ckpt = torch.load(case.ckpt, weights_only=True)
    ckpt["config"]["volume_shape"] = [32, 32, 8]
    torch.save(ckpt, tmp_path / "other.pt")
    out = tmp_path / "h.nii.gz"
    args = _predict_args(case, out)
    args[args.index("--checkpoint") + 1] = str(tmp_path / "other.pt")
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(32, 32, 8)" in err[0] and "--allow-mismatch" in err[0]
    assert not out.exists()
    with pytest.warns(UserWarning, match="trained on volumes of shape"):
        assert cli.main(args + ["--allow-mismatch"]) == 0
    assert out.exists()


def test_predict_errors_exit_2_and_write_nothing(case, tmp_path, capsys):
    d = case.dir
    (d / "broken.nii.gz").write_bytes(b"not a nifti")
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 5), np.uint8), case.affine), d / "small_mask.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.uint8), case.affine), d / "empty_mask.nii.gz")
    nan_image = case.image.copy()
    nan_image[0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(nan_image, case.affine), d / "nan.nii.gz")
    (d / "bad.pt").write_bytes(b"garbage")

    cases = [
        ("--image", d / "broken.nii.gz", "broken.nii.gz"),
        ("--image", d / "missing.nii.gz", "missing.nii.gz"),
        ("--mask", d / "small_mask.nii.gz", "small_mask.nii.gz"),
        ("--mask", d / "empty_mask.nii.gz", "empty"),
        ("--image", d / "nan.nii.gz", "NaN"),
        ("--checkpoint", d / "bad.pt", "bad.pt"),
    ]
    for flag, value, needle in cases:
        out = tmp_path / "err" / "h.nii.gz"
        args = _predict_args(case, out)
        args[args.index(flag) + 1] = str(value)
        assert cli.main(args) == 2, (flag, value)
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
        assert not out.exists()


def _lists(tmp_path):
    (tmp_path / "t.csv").write_text("subject,image,mask\ns1,a.nii.gz,am.nii.gz\ns2,b.nii.gz,bm.nii.gz\n")
    (tmp_path / "v.csv").write_text("image,mask\nc.nii.gz,cm.nii.gz\n")
    return [
        "train",
        "--train-list",
        str(tmp_path / "t.csv"),
        "--val-list",
        str(tmp_path / "v.csv"),
        "--out",
        str(tmp_path / "run"),
        "--quiet",
    ]


def _fake_training(monkeypatch, method):
    """The method module's train_from_files replaced by one that records its call."""
    from patch2loc.registry import implementation

    calls = {}

    def train_from_files(train, val, block, out_dir, *, modality, threads, progress=True):
        calls.update(train=train, val=val, block=block, out=out_dir, modality=modality, threads=threads)
        return {"best_step": 1}

    monkeypatch.setattr(implementation(method), "train_from_files", train_from_files)
    return calls


def test_train_reads_lists_and_calls_the_methods_training(monkeypatch, tmp_path):
    calls = _fake_training(monkeypatch, "Patch2Loc")
    rc = cli.main(_lists(tmp_path) + ["--steps", "7", "--patches", "64", "--lr", "0.001", "--modality", "T2"])
    assert rc == 0
    at = lambda *names: tuple(str(tmp_path / n) for n in names)  # noqa: E731  (relative to the csv's folder)
    assert calls["train"] == [at("a.nii.gz", "am.nii.gz"), at("b.nii.gz", "bm.nii.gz")]
    assert calls["val"] == [at("c.nii.gz", "cm.nii.gz")]
    assert calls["block"] == {"steps": 7, "patches_per_step": 64, "lr": 0.001}  # the rest: the block's defaults
    assert calls["out"] == str(tmp_path / "run") and calls["modality"] == "T2" and calls["threads"] is None


def test_train_method_dae_takes_its_own_settings_and_refuses_others(monkeypatch, tmp_path, capsys):
    calls = _fake_training(monkeypatch, "DAE")
    assert cli.main(_lists(tmp_path) + ["--method", "DAE", "--steps", "5", "--lr", "0.001"]) == 0
    assert calls["block"] == {"steps": 5, "lr": 0.001}
    assert cli.main(_lists(tmp_path) + ["--method", "DAE", "--patches", "64"]) == 2
    err = capsys.readouterr().err
    assert "--patches: DAE has no setting patches_per_step" in err and "drop --patches" in err
    assert cli.main(_lists(tmp_path) + ["--method", "Thresh"]) == 2
    assert "Thresh is not a trained method" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_predict_takes_the_patch_centres_by_one_name(capsys):
    argv = ["predict", "--image", "a.nii.gz", "--out", "o.nii.gz"]
    assert cli.build_parser().parse_args(argv + ["--centres", "all"]).centres == "all"
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(argv + ["--region", "mask"])
    assert exit_.value.code == 2 and "--region" in capsys.readouterr().err


def test_train_bad_list_exits_2(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("img,msk\na,b\n")
    rc = cli.main(
        [
            "train",
            "--train-list",
            str(tmp_path / "t.csv"),
            "--val-list",
            str(tmp_path / "t.csv"),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "t.csv" in err and "image" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # end to end (subprocesses, Snakemake or the real chain): out of make test-fast
def test_predict_from_a_raw_scan_goes_through_the_runs_chain(tmp_path):
    from patch2loc.files.io import load_volume

    run, new = _finished_run(tmp_path)
    ckpt = {"model": Patch2LocNet(4).eval().state_dict(), "patch_size": 4, "config": {"intensity_range": NORMALISED}}
    torch.save(as_written(ckpt, grid=(32, 32, 20)), tmp_path / "m.pt")
    out = tmp_path / "new" / "heat.nii.gz"
    rc = cli.main(predict_argv(None, out, image=new.image, mask=new.mask, ckpt=tmp_path / "m.pt", from_run=run))
    assert rc == 0
    heat = load_volume(out)
    prepared = tmp_path / "new" / "heat_preprocessed"
    norm, mask = load_volume(prepared / "normalized.nii.gz"), load_volume(prepared / "mask.nii.gz").data > 0
    assert heat.data.shape == norm.data.shape == (32, 32, 20)  # the run's grid, not the raw scan's
    assert np.allclose(heat.affine, norm.affine)
    assert np.all(heat.data[~mask] == 0) and np.isfinite(heat.data).all() and np.any(heat.data[mask] != 0)
    # Nyul + 98th-percentile scaling of the run: the in-brain 98th percentile is 1.
    assert np.percentile(norm.data[mask], 98) == pytest.approx(1.0, abs=0.05)
    # The same order as the workflow's normalize_scan rule: Nyul on the uncropped volume, crop last.
    from patch2loc.preprocessing.normalize import normalize_scan

    expected = normalize_scan(
        prepared / "uncropped.nii.gz",
        prepared / "uncropped_mask.nii.gz",
        run / "landmarks" / "T1.npy",
        tmp_path / "expected.nii.gz",
        target_shape=(32, 32, 20),
    )
    assert np.array_equal(load_volume(expected).data, norm.data)


def test_predict_from_an_unfinished_run_names_the_missing_file(tmp_path, capsys):
    run = tmp_path / "results" / "r"
    run.mkdir(parents=True)
    out = tmp_path / "heat.nii.gz"
    rc = cli.main(predict_argv(None, out, image="raw.nii.gz", mask=False, ckpt="x.pt", from_run=run, modality="T2"))
    assert rc == 2 and "config.resolved.yaml" in capsys.readouterr().err and not out.exists()
