"""`patch2loc predict` on one raw scan, end to end, at the paper's grid: the wall time of the command
split into the network's scoring (its summary's `seconds`) and the rest (reading, registration to
the atlas, N4, cropping, Nyul normalisation, the native-space outputs).

The run folder is built here the way the workflow would leave it, from synthetic volumes (a GPU
machine has no dataset and no nilearn): an ellipsoidal atlas, Nyul landmarks fitted on atlas-space
volumes, a Patch2Loc checkpoint written by its trainer after one step (the weights do not change
the time), the paper config resolved, and a run threshold.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from gpu.common import Sizes, paper_config
from patch2loc.files.io import load_case, save_volume


def _brain(shape, seed: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """An ellipsoidal brain with a smooth texture, a brighter core and intensities on `scale`."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    axes = [np.linspace(-1, 1, s) for s in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    r2 = (x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.9) ** 2
    tex = ndimage.gaussian_filter(rng.normal(size=shape), 2.0)
    image = scale * (0.6 + 0.2 * (r2 < 0.3) + 0.1 * tex / tex.std()) * (r2 <= 1)
    return image.astype(np.float32), r2 <= 1


def build_run(work: Path, sizes: Sizes, device: torch.device) -> Path:
    from patch2loc.methods.patch2loc.train import TrainConfig, train
    from patch2loc.preprocessing.normalize import fit_landmarks, normalize_scan

    cfg = paper_config()
    grid = tuple(sizes.grid)
    atlas_shape = tuple(int(s * 1.15) for s in grid)  # the atlas is larger than the crop, as SRI24 is
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    atlas, atlas_mask = _brain(atlas_shape, 0, 1000.0)
    run = work / "run"  # the atlas where the workflow records the one a run used (rule record_atlas)
    save_volume(atlas, run / "atlas" / "image.nii.gz", affine=affine)
    save_volume(atlas_mask.astype(np.uint8), run / "atlas" / "mask.nii.gz", affine=affine)
    pre, norm = [], []
    for i in range(4):  # atlas-space healthy volumes: 3 fit the landmarks, all 4 train and validate
        image, mask = _brain(grid, 10 + i, 800.0 + 100 * i)
        pre.append(
            (
                save_volume(image, work / "pre" / f"s{i}.nii.gz", affine=affine),
                save_volume(mask.astype(np.uint8), work / "pre" / f"s{i}_mask.nii.gz", affine=affine),
            )
        )
    fit_landmarks([p for p, _ in pre[:3]], [m for _, m in pre[:3]], run / "landmarks" / "T2.npy")
    for i, (p, m) in enumerate(pre):
        out = work / "norm" / f"s{i}.nii.gz"
        normalize_scan(p, m, run / "landmarks" / "T2.npy", out, percentile=cfg["normalize"]["percentile"])
        norm.append(load_case(out, m))
    images = np.stack([c.image.data for c in norm]).astype(np.float32)
    masks = np.stack([c.mask for c in norm])
    tcfg = TrainConfig(
        steps=1, val_every=1, val_batches=1, patches_per_step=sizes.patches, device=str(device), modality="T2"
    )
    train(images[:3], masks[:3], images[3:], masks[3:], tcfg, run / "models" / "T2" / "fold0", progress=False)
    preprocess = {**cfg["preprocess"], "target_shape": list(grid)}
    if sizes.tiny:
        preprocess["n4_iterations"] = [5]
    resolved = {
        **cfg,
        "preprocess": preprocess,
        "atlas": {"image": str(run / "atlas" / "image.nii.gz"), "mask": str(run / "atlas" / "mask.nii.gz")},
    }
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(resolved), encoding="utf-8")
    thr = run / "scores" / "Patch2Loc" / "T2" / "fold0" / "IXI" / "threshold.json"
    thr.parent.mkdir(parents=True, exist_ok=True)
    thr.write_text(json.dumps({"threshold": 8.0, "quantile": 0.98}), encoding="utf-8")  # sets the mask only
    return run


def raw_scan(work: Path, sizes: Sizes) -> Path:
    """The raw input: a brain in another pose (rotated 8 degrees, shifted), on 1.2 x 1.2 x 1.5 mm voxels."""
    import SimpleITK as sitk

    shape = tuple(int(s * 1.15) for s in sizes.grid)
    image, _ = _brain(shape, 5, 600.0)
    itk = sitk.GetImageFromArray(np.ascontiguousarray(image.transpose(2, 1, 0)))
    rigid = sitk.Euler3DTransform((shape[0] / 2, shape[1] / 2, shape[2] / 2), 0.0, 0.05, 0.14, (4.0, -6.0, 3.0))
    spacing = (1.2, 1.2, 1.5)
    size = [int(n / s) for n, s in zip(shape, spacing)]
    out = sitk.Resample(itk, size, rigid, sitk.sitkLinear, (0.0, 0.0, 0.0), spacing, itk.GetDirection(), 0.0)
    path = work / "scan" / "sub-01_T2w.nii.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(out, str(path))
    return path


def predict_one(sizes: Sizes, device: torch.device) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        run, scan = build_run(work, sizes, device), raw_scan(work, sizes)
        built = time.perf_counter() - t0
        cmd = [
            sys.executable,
            "-m",
            "patch2loc.cli",
            "predict",
            "--from-run",
            str(run),
            "--modality",
            "T2",
            "--image",
            str(scan),
            "--skull-strip",
            "none",
            "--out",
            str(work / "out"),
            "--device",
            str(device),
            "--quiet",
        ]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"predict exited {done.returncode}: {done.stderr.strip()[-400:]}")
        summary = json.loads(next((work / "out").glob("*_summary.json")).read_text(encoding="utf-8"))
    row = {
        "wall_s": wall,
        "scoring_s": summary["seconds"],
        "rest_s": wall - summary["seconds"],
        "patches": summary["patches"],
        "setup_s": built,
        "cpu_threads": torch.get_num_threads(),
    }
    print(
        f"predict: {wall:.1f} s end to end, scoring {summary['seconds']:.1f} s, the rest {row['rest_s']:.1f} s",
        flush=True,
    )
    return row
