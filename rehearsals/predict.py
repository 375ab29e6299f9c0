"""Rehearsal of `patch2loc predict` as a tool, on synthetic data, CPU only.

Builds a small run folder the way the workflow would (MNI-based demo atlas, healthy synthetic T2
scans preprocessed at 3 mm to 64 x 64 x 40, Nyul landmarks, one model trained with the demo's
settings, the healthy 98th-percentile threshold), then gives predict a folder of three raw
lesion scans (synthetic BraTS-like tumours in a random pose, resampled to anisotropic voxels;
one file corrupt) and measures, in each scan's own native space, how the lesion mask overlaps
the known lesion. Prints and writes `<work>/rehearsal.json`.

    PYTHONPATH=src python rehearsals/predict.py --work /tmp/p2l_rehearsal
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ANISOTROPIC = (1.2, 1.2, 4.0)  # mm: thick axial slices, as clinical scans often have


def _anisotropic(src: Path, dst: Path, nearest: bool) -> None:
    """Resample a native scan onto anisotropic voxels, keeping its pose (direction, origin)."""
    import SimpleITK as sitk

    img = sitk.ReadImage(str(src))
    size = [int(round(n * s / t)) for n, s, t in zip(img.GetSize(), img.GetSpacing(), ANISOTROPIC)]
    out = sitk.Resample(
        img,
        size,
        sitk.Transform(),
        sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear,
        img.GetOrigin(),
        ANISOTROPIC,
        img.GetDirection(),
        0,
        img.GetPixelID(),
    )
    sitk.WriteImage(out, str(dst))


def build_run(work: Path, n_healthy: int, steps: int, patch_size: int | None, median_size: int) -> Path:
    import yaml

    from patch2loc.methods.patch2loc.heatmap import score_volume
    from patch2loc.scoring import postprocess
    from patch2loc.files.io import load_case
    from patch2loc.scoring import unsupervised_threshold
    from patch2loc.methods.patch2loc.model import load_model
    from patch2loc.preprocessing.normalize import fit_landmarks, normalize_scan
    from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan
    from patch2loc.synth import demo_subject_ids, make_atlas, synthesize_scan
    from patch2loc.methods.patch2loc.train import TrainConfig, train_from_files

    run = work / "results" / "rehearsal"
    atlas, atlas_mask = make_atlas(work / "atlas" / "T1_brain.nii.gz", work / "atlas" / "brain_mask.nii.gz")
    cfg = {
        "preprocess": {
            "spacing": [3.0, 3.0, 3.0],
            "target_shape": [64, 64, 40],
            "n4_iterations": [50, 50],
            "n4_tolerance": 1e-3,
        },
        "normalize": {"percentile": 98.0},
        "atlas": {"image": str(atlas), "mask": str(atlas_mask)},
    }
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
    pcfg = PreprocessConfig.from_config(cfg["preprocess"], skull_strip="provided")
    subjects = demo_subject_ids("IXI", n_healthy)
    pairs = []
    for i, s in enumerate(subjects):
        scan = synthesize_scan("IXI", "T2", s, work / "raw", seed=i, spacing=2.0)
        if not (work / "pre" / s / "qc.json").exists():  # a rerun reuses finished scans
            preprocess_scan(scan, atlas, atlas_mask, work / "pre" / s, pcfg)
    n_fit = n_healthy - 4  # 2 validation, 2 for the threshold
    fit_landmarks(
        [work / "pre" / s / "image.nii.gz" for s in subjects[:n_fit]],
        [work / "pre" / s / "mask.nii.gz" for s in subjects[:n_fit]],
        run / "landmarks" / "T2.npy",
    )
    for s in subjects:
        normalize_scan(
            work / "pre" / s / "image.nii.gz",
            work / "pre" / s / "mask.nii.gz",
            run / "landmarks" / "T2.npy",
            work / "norm" / s / "image.nii.gz",
            percentile=98.0,
        )
        pairs.append((work / "norm" / s / "image.nii.gz", work / "pre" / s / "mask.nii.gz"))
    model_dir = run / "models" / "T2" / "fold0"
    tcfg = TrainConfig(
        steps=steps,
        patches_per_step=256,
        val_every=100,
        val_batches=2,
        device="cpu",
        modality="T2",
        num_threads=1,
        patch_size=patch_size,
    )  # 1 thread: robust on a busy machine
    train_from_files(pairs[:n_fit], pairs[n_fit : n_fit + 2], tcfg, model_dir, progress=False)
    model, _ = load_model(str(model_dir / "best.pt"))
    scores, masks = [], []
    for image, mask in pairs[n_fit + 2 :]:
        case = load_case(image, mask)
        res = score_volume(model, case.image.data, case.mask, stride=2, device="cpu", amp="none")
        scores.append(postprocess(res.score, case.mask, median_size))
        masks.append(case.mask)
    threshold = unsupervised_threshold(scores, masks, 0.98)
    tdir = run / "scores" / "Patch2Loc" / "T2" / "fold0" / "IXI"
    tdir.mkdir(parents=True, exist_ok=True)
    (tdir / "threshold.json").write_text(json.dumps({"threshold": threshold, "quantile": 0.98}))
    return run


def scan_record(scan: Path, seg_path: Path, out: Path, s: str) -> dict:
    """What predict made of one lesion scan, on its own grid: shape, affine, AUPRC, Dice, its summary."""
    import nibabel as nib

    from patch2loc.scoring.metrics import evaluate_volume

    raw = nib.load(scan)
    native = nib.load(out / f"{s}_native.nii.gz")
    lesions = np.asarray(nib.load(out / f"{s}_native_lesions.nii.gz").dataobj) > 0
    seg = np.asarray(nib.load(seg_path).dataobj) > 0
    score = np.asarray(native.dataobj)
    brain = np.asarray(raw.dataobj) > 0  # BraTS-like scans come skull-stripped
    m = evaluate_volume(score, seg, brain, region="brain")
    inter = float((lesions & seg).sum())
    summary = json.loads((out / f"{s}_summary.json").read_text())
    return {
        "native_shape": list(native.shape),
        "input_shape": list(raw.shape),
        "affine_equal": bool(np.allclose(native.affine, raw.affine)),
        "voxel_mm": [round(float(v), 3) for v in np.linalg.norm(raw.affine[:3, :3], axis=0)],
        "lesion_prevalence_in_brain": float(seg[brain].mean()),
        "auprc_native": m["auprc"],
        "auroc_native": m["auroc"],
        "best_dice_native": m["best_dice"],
        "dice_at_run_threshold": float(2 * inter / max(1, lesions.sum() + seg.sum())),
        "precision_at_threshold": float(inter / max(1, lesions.sum())),
        "mask_volume_ml": summary["lesion_volume_ml"],
        "components": summary["n_components"],
        "largest_component": summary["components"][0] if summary["components"] else None,
        "threshold": summary["threshold"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--healthy", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--patch-size", type=int, default=None, help="train.patch_size (default: 1/8 of the slice)")
    parser.add_argument("--median-size", type=int, default=7, help="heatmap.median_size, for the threshold and predict")
    args = parser.parse_args()
    from patch2loc.synth import demo_subject_ids, synthesize_scan

    work = args.work
    t0 = time.perf_counter()
    run = build_run(work, args.healthy, args.steps, args.patch_size, args.median_size)
    t_run = time.perf_counter() - t0
    scans = work / "scans"
    scans.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i, s in enumerate(demo_subject_ids("BraTS21", 2)):
        raw = synthesize_scan("BraTS21", "T2", s, work / "raw_lesion", seed=500 + i, spacing=2.0)
        _anisotropic(raw.image, scans / f"{s}.nii.gz", nearest=False)
        (work / "truth").mkdir(exist_ok=True)
        _anisotropic(raw.seg, work / "truth" / f"{s}.nii.gz", nearest=True)
        truth[s] = work / "truth" / f"{s}.nii.gz"
    (scans / "corrupt.nii.gz").write_bytes(b"\x1f\x8b" + b"truncated")
    out = work / "out"
    cmd = [
        sys.executable,
        "-m",
        "patch2loc.cli",
        "predict",
        "--image",
        str(scans),
        "--from-run",
        str(run),
        "--modality",
        "T2",
        "--skull-strip",
        "none",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--stride",
        "2",
        "--median-size",
        str(args.median_size),
        "--quiet",
    ]
    t1 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    t_predict = time.perf_counter() - t1
    record = {
        "command": " ".join(cmd),
        "exit_status": proc.returncode,
        "stderr": proc.stderr.strip().splitlines(),
        "seconds_build_run": round(t_run, 1),
        "seconds_predict_3_scans": round(t_predict, 1),
        "outputs": sorted(p.name for p in out.iterdir()),
        "scans": {},
    }
    for s, seg_path in truth.items():
        record["scans"][s] = scan_record(scans / f"{s}.nii.gz", seg_path, out, s)
    (work / "rehearsal.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
