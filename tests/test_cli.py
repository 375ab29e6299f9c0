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
from patch2loc.heatmap import postprocess, score_volume
from patch2loc.model import Patch2LocNet

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
    torch.save({"model": net.state_dict(), "patch_size": 2, "config": {"volume_shape": list(SHAPE)}},
               tmp_path / "model.pt")
    return types.SimpleNamespace(dir=tmp_path, image=image, mask=mask.astype(bool), affine=affine, net=net,
                                 ckpt=tmp_path / "model.pt")


def _predict_args(c, out: Path, *extra: str) -> list[str]:
    return ["predict", "--checkpoint", str(c.ckpt), "--image", str(c.dir / "image.nii.gz"),
            "--mask", str(c.dir / "mask.nii.gz"), "--out", str(out), "--device", "cpu", "--quiet", *extra]


@pytest.mark.parametrize("command", [[], ["train"], ["predict"]])
def test_help(command):
    # a fresh interpreter: --help must not need torch's training code to import
    proc = subprocess.run([sys.executable, "-m", "patch2loc.cli", *command, "--help"],
                          capture_output=True, text=True, timeout=120)
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
    expect = postprocess(score_volume(case.net, case.image, case.mask, amp="none", device="cpu").score,
                         case.mask, 7)
    np.testing.assert_allclose(np.asarray(img.dataobj), expect, atol=1e-5)
    assert (np.asarray(img.dataobj)[~case.mask] == 0).all()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["heat.nii.gz", "heat.png"]  # no temp files


def test_predict_raw_and_stride(case, tmp_path):
    out = tmp_path / "raw.nii.gz"
    assert cli.main(_predict_args(case, out, "--no-postprocess", "--stride", "2", "--region", "all",
                                  "--amp", "none")) == 0
    expect = score_volume(case.net, case.image, case.mask, stride=2, region="all", amp="none", device="cpu")
    np.testing.assert_allclose(np.asarray(nib.load(out).dataobj), expect.score, atol=1e-5)


def test_predict_warns_on_other_training_shape(case, tmp_path):
    ckpt = torch.load(case.ckpt, weights_only=False)
    ckpt["config"]["volume_shape"] = [32, 32, 8]
    torch.save(ckpt, tmp_path / "other.pt")
    args = _predict_args(case, tmp_path / "h.nii.gz")
    args[args.index("--checkpoint") + 1] = str(tmp_path / "other.pt")
    with pytest.warns(UserWarning, match="training volumes"):
        assert cli.main(args) == 0


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


def test_train_reads_lists_and_calls_train(monkeypatch, tmp_path):
    # stand-in for patch2loc.train: checks what the CLI passes, independent of training itself
    from dataclasses import dataclass

    @dataclass
    class TrainConfig:
        steps: int = 15000
        patches_per_step: int = 8096
        lr: float = 1e-2
        seed: int = 3141
        device: str = "auto"
        amp: str = "none"
        val_every: int = 500
        num_threads: int | None = None

    calls = {}

    def train_from_files(train_pairs, val_pairs, cfg, out_dir, progress=True):
        calls.update(train=train_pairs, val=val_pairs, cfg=cfg, out=out_dir)
        return {"best_step": 1}

    fake = types.ModuleType("patch2loc.train")
    fake.TrainConfig, fake.train_from_files = TrainConfig, train_from_files
    monkeypatch.setitem(sys.modules, "patch2loc.train", fake)
    (tmp_path / "t.csv").write_text("subject,image,mask\ns1,a.nii.gz,am.nii.gz\ns2,b.nii.gz,bm.nii.gz\n")
    (tmp_path / "v.csv").write_text("image,mask\nc.nii.gz,cm.nii.gz\n")
    rc = cli.main(["train", "--train-list", str(tmp_path / "t.csv"), "--val-list", str(tmp_path / "v.csv"),
                   "--out", str(tmp_path / "run"), "--steps", "7", "--patches", "64", "--lr", "0.001",
                   "--quiet"])
    assert rc == 0
    assert calls["train"] == [("a.nii.gz", "am.nii.gz"), ("b.nii.gz", "bm.nii.gz")]
    assert calls["val"] == [("c.nii.gz", "cm.nii.gz")]
    assert calls["cfg"] == TrainConfig(steps=7, patches_per_step=64, lr=0.001)  # the rest: defaults
    assert calls["out"] == str(tmp_path / "run")


def test_train_bad_list_exits_2(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("img,msk\na,b\n")
    rc = cli.main(["train", "--train-list", str(tmp_path / "t.csv"), "--val-list", str(tmp_path / "t.csv"),
                   "--out", str(tmp_path / "run")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "t.csv" in err and "image" in err
    assert not (tmp_path / "run").exists()
