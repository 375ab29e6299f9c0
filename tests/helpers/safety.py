"""Shared by the input-safety tests: run the CLI and check that a refusal changed nothing."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from patch2loc import cli
from patch2loc.checks.intensities import training_range
from patch2loc.methods.patch2loc.model import Patch2LocNet
from patch2loc.run.checkpoint import FORMAT

SHAPE = (16, 16, 4)  # patch_size_for(16) = 2


def snapshot(folder: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every file and folder under `folder` (hidden ones too): content and mode."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            rel = str(p.relative_to(folder))
            if p.is_symlink():
                state[rel] = (os.readlink(p).encode(), 0)
            elif p.is_dir():
                state[rel] = (None, p.stat().st_mode)
            else:
                state[rel] = (p.read_bytes(), p.stat().st_mode)
    return state


def refused(argv: list[str], needle: str, watched: Path, capsys, status: int = 2) -> str:
    """Run the CLI; assert the exit status, one stderr line containing `needle` (no traceback),
    and that nothing under `watched` was created, changed or removed. Returns the line."""
    before = snapshot(watched)
    capsys.readouterr()
    rc = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == status, (rc, err)
    assert len(err) == 1, err
    assert "Traceback" not in err[0] and needle in err[0], err
    after = snapshot(watched)
    assert sorted(after) == sorted(before), set(after) ^ set(before)
    assert after == before  # inputs byte-identical, same modes
    return err[0]


def make_case(folder: Path, modality: str | None = "T1") -> dict[str, Path]:
    """A preprocessed-looking image + brain mask and a tiny checkpoint that records its modality."""
    rng = np.random.default_rng(0)
    affine = np.diag([1.5, 1.0, 2.0, 1.0])
    image = rng.normal(1.0, 0.3, SHAPE).astype(np.float32)
    mask = np.zeros(SHAPE, np.uint8)
    mask[4:12, 3:13, :] = 1
    folder.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(image, affine), folder / "image.nii.gz")
    nib.save(nib.Nifti1Image(mask, affine), folder / "mask.nii.gz")
    torch.manual_seed(0)
    trained_on = training_range(image[None], mask[None] > 0)  # as training records it
    torch.save(
        {
            "format": FORMAT,
            "method": "Patch2Loc",
            "model": Patch2LocNet(2).eval().state_dict(),
            "patch_size": 2,
            "modality": modality,
            "config": {"volume_shape": list(SHAPE), "modality": modality, "channels": 1, "intensity_range": trained_on},
        },
        folder / "model.pt",
    )
    return {
        "image": folder / "image.nii.gz",
        "mask": folder / "mask.nii.gz",
        "ckpt": folder / "model.pt",
        "affine": affine,
    }


def predict_argv(
    c: dict | None,
    out: Path,
    *extra: str,
    image: Path | None = None,
    mask: Path | None | bool = None,
    ckpt: Path | None | bool = None,
    model: Path | None = None,
    from_run: Path | None = None,
    modality: str = "T1",
    quiet: bool = True,
) -> list[str]:
    """The tests' one `patch2loc predict` argv: on the CPU, without mixed precision.
    c: a make_case dict (image, mask, checkpoint), or None with image and ckpt given; mask=False:
    no --mask; ckpt=False: no --checkpoint (a run's or a bundle's folds, or one in extra); model: a
    bundle instead of the checkpoint; from_run: a run folder (with --modality); quiet=False: the
    progress shown; extra flags last."""
    source = ["--model", str(model)] if model else [] if ckpt is False else ["--checkpoint", str(ckpt or c["ckpt"])]
    argv = ["predict", *source]
    argv += ["--image", str(image or c["image"])]
    argv += [] if mask is False else ["--mask", str(mask or c["mask"])]
    argv += ["--from-run", str(from_run), "--modality", modality] if from_run else []
    return [*argv, "--out", str(out), "--device", "cpu", "--amp", "none", *(["--quiet"] if quiet else []), *extra]


def finished_run(tmp_path):
    """A run folder as the workflow leaves it: resolved config, atlas, T1 landmarks."""
    import yaml

    from patch2loc.preprocessing.normalize import fit_landmarks
    from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan
    from patch2loc.synth import demo_subject_ids, make_atlas, synthesize_scan

    from patch2loc.run.layout import RunLayout

    run = tmp_path / "results" / "r"
    layout = RunLayout(run)  # the run records its atlas (rule record_atlas)
    atlas_image, atlas_mask = make_atlas(layout.atlas_image, layout.atlas_mask, spacing=6.0)
    cfg = {
        "preprocess": {
            "spacing": [6.0, 6.0, 6.0],
            "target_shape": [32, 32, 20],
            "n4_iterations": [5],
            "n4_tolerance": 1e-3,
        },
        "normalize": {"percentile": 98.0},
        "atlas": {"image": "data/atlas.nii.gz", "mask": "data/mask.nii.gz"},
        "heatmap": {"median_size": 3},
    }  # predict --from-run filters as the run did
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
    scans = [
        synthesize_scan("IXI", "T1", s, tmp_path / "raw", seed=i, spacing=4.0)
        for i, s in enumerate(demo_subject_ids("IXI", 3))
    ]
    pcfg = PreprocessConfig.from_config(cfg["preprocess"], skull_strip="provided")
    for scan in scans[:2]:
        preprocess_scan(scan, atlas_image, atlas_mask, tmp_path / "pre" / scan.subject, pcfg)
    fit_landmarks(
        [tmp_path / "pre" / s.subject / "image.nii.gz" for s in scans[:2]],
        [tmp_path / "pre" / s.subject / "mask.nii.gz" for s in scans[:2]],
        run / "landmarks" / "T1.npy",
    )
    return run, scans[2]


def placeholder_atlas(path: Path) -> Path:
    """An atlas file whose header passes every check (predict reads the atlas grid from it for the
    memory budget) but whose brain is empty: preprocessing with it fails at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.float32), np.eye(4)), path)
    return path


def train_on(listing: Path, out: Path, *flags: str) -> list[str]:
    """`patch2loc train` with one csv as both the training and the validation list, into `out`,
    with only `flags` besides (what a refusal test needs, no more)."""
    return ["train", "--train-list", str(listing), "--val-list", str(listing), "--out", str(out), *flags]


def train_argv(train_list, val_list, out, *extra, steps: int = 2) -> list[str]:
    """`patch2loc train` of a tiny Patch2Loc on the CPU: 8 patches a step, a validation every step."""
    return [
        "train",
        "--train-list",
        str(train_list),
        "--val-list",
        str(val_list),
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--patches",
        "8",
        "--val-every",
        "1",
        "--device",
        "cpu",
        "--num-threads",
        "1",
        "--quiet",
        *extra,
    ]
