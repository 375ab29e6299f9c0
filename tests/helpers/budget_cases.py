"""Crafted files that would break the memory and disk budgets, built small on disk.

Shared by tests/inputs/test_budgets_hostile.py and studies/hostile_memory_budget.py (which measures
the peak memory of each refusal): `cases` builds all five in a folder and says, per case, the
command and the text its one-line refusal must hold.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
from tests.helpers.bundle import make_run, model_argv, rewrite
from tests.helpers.fake_chain import fake_run, from_run_argv
from tests.helpers.hostile import nifti_header, write_nii_gz, zeros_sha256, zip_with_inflating_members
from tests.helpers.safety import make_case, predict_argv

from patch2loc import cli

CUBE = (640, 640, 640)  # uint8: 1,000 MB as float32, within PATCH2LOC_MAX_IMAGE_MB


def cube_file(path: Path) -> Path:
    """The issue's file: a header claiming 640^3 uint8 voxels, 1 MB of them present (a few kB on disk)."""
    return write_nii_gz(path, nifti_header(CUBE, np.uint8, affine=np.eye(4)), 1 << 20)


def demo_bundle(c: dict, base: Path) -> tuple[Path, Path]:
    """(run, bundle .zip): a genuine export whose atlas is demo-sized (64 x 76 x 64 voxels of 3 mm)."""
    base.mkdir(parents=True, exist_ok=True)
    atlas = (base / "atlas_image.nii.gz", base / "atlas_mask.nii.gz")
    brain = np.zeros((64, 76, 64), np.float32)
    brain[16:48, 16:60, 16:48] = 1.0
    nib.save(nib.Nifti1Image(brain, np.diag([3.0, 3.0, 3.0, 1.0])), atlas[0])
    nib.save(nib.Nifti1Image(brain.astype(np.uint8), np.diag([3.0, 3.0, 3.0, 1.0])), atlas[1])
    run = make_run(base / "wf", c, atlas)
    assert cli.main(["export", str(run), "--modality", "T1", "--out", str(base / "b" / "t1.zip"), "--quiet"]) == 0
    return run, base / "b" / "t1.zip"


def spacing(value):
    """A `rewrite` change: settings.json's preprocess.spacing set to `value`."""

    def change(members):
        settings = json.loads(members["settings.json"])
        settings["preprocess"]["spacing"] = value
        members["settings.json"] = json.dumps(settings).encode()

    return change


def alias_bomb(levels: int = 9) -> str:
    """YAML lines (indented for a mapping two levels down) whose aliases expand to 9^levels values."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join("    " + line for line in lines)


def bomb_config(run: Path) -> str:
    """The run's config.resolved.yaml with an alias bomb under a key nothing reads (normalize.extra)."""
    text = (
        (run / "config.resolved.yaml")
        .read_text()
        .replace("normalize:\n", "normalize:\n  extra:\n" + alias_bomb() + "\n", 1)
    )
    (run / "config.resolved.yaml").write_text(text)
    return text


def inflating_folds(zipped: Path, folds: int, size: int) -> None:
    """The bundle with `folds` weights members of `size` zero bytes each (manifest truthful)."""
    with zipfile.ZipFile(zipped) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if not n.startswith("folds/")}
    settings = json.loads(members["settings.json"])
    settings["folds"] = [{"fold": k, "weights": f"folds/fold{k}.pt", "threshold": 4.0} for k in range(folds)]
    members["settings.json"] = json.dumps(settings).encode()
    manifest = json.loads(members["manifest.json"])
    sha = zeros_sha256(size)
    manifest["members"] = {
        n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items() if n != "manifest.json"
    }
    manifest["members"].update({f"folds/fold{k}.pt": {"sha256": sha, "size": size} for k in range(folds)})
    members["manifest.json"] = json.dumps(manifest).encode()
    zip_with_inflating_members(zipped, members, {f"folds/fold{k}.pt": size for k in range(folds)})


def cases(base: Path) -> dict[str, tuple[list[str], str]]:
    """The five cases built under `base` (each in its own folder): {name: (CLI argv, text of its refusal)}."""
    out = {}
    c = make_case(base / "in")
    image = cube_file(base / "in" / "cube.nii.gz")
    run = fake_run(base / "fake")
    out["1 cube 640^3, --from-run"] = (
        predict_argv(c, base / "out1" / "h.nii.gz", "--skull-strip", "none", image=image, mask=False, from_run=run),
        "PATCH2LOC_MEMORY_BUDGET_MB",
    )
    nib.save(nib.Nifti1Image(np.ones((64, 64, 40), np.uint8), np.eye(4)), base / "in" / "mask64.nii.gz")
    out["2 cube + a 64x64x40 mask"] = (
        predict_argv(c, base / "out2" / "h.nii.gz", image=image, mask=base / "in" / "mask64.nii.gz"),
        "brain mask shape",
    )
    _, zip3 = demo_bundle(c, base / "three")
    rewrite(zip3, spacing([0.35, 0.35, 0.35]), rehash=True)
    out["3 bundle spacing 0.35 mm"] = (model_argv(c, zip3, base / "out3" / "x.nii.gz"), "PATCH2LOC_MEMORY_BUDGET_MB")
    run4, _ = demo_bundle(c, base / "four")
    bomb_config(run4)
    out["4 YAML alias bomb, export"] = (
        ["export", str(run4), "--modality", "T1", "--out", str(base / "out4" / "again.zip")],
        "YAML aliases expand",
    )
    out["4 YAML alias bomb, --from-run"] = (from_run_argv(run4, c, base / "out4" / "x.nii.gz"), "YAML aliases expand")
    _, zip5 = demo_bundle(c, base / "five")
    inflating_folds(zip5, 3, 1 << 30)
    out["5 bundle of 3 x 1 GiB folds"] = (model_argv(c, zip5, base / "out5" / "x.nii.gz"), "PATCH2LOC_MAX_BUNDLE_MB")
    return out
