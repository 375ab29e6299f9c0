"""How well T1 and T2 of one demo subject line up on the atlas grid after each is registered to the
atlas on its own (docs/multimodal.md, "Alignment of two contrasts").

    python benchmarks/bench_contrast_alignment.py [--workdir /tmp/bench_align] [--ixi 6]

The demo's settings (config/demo.yaml: 2 mm native scans, seed 7, 3 mm atlas grid of 64 x 64 x 40,
N4 50 x 50). IXI subjects: T1 and T2 have their own random pose (as two real acquisitions); BraTS21
and MSLUB: T1 on T2's grid (as the real sets ship them). The synthesiser's poses give the true map
between the two native scans, so the misalignment of the two registrations is measured exactly
(patch2loc.preprocessing.alignment), besides the Dice of the two brain masks. ITK on one thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")
    from patch2loc.data.layouts import raw_paths
    from patch2loc.preprocessing.alignment import displacement_mm, mask_dice, native_brain, via_reference_mm
    from patch2loc.preprocessing.corrections import register_affine
    from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan
    from patch2loc.synth import demo_subject_ids, make_atlas, render_scan, subject_seed, synthesize_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_align"))
    parser.add_argument("--ixi", type=int, default=6)
    args = parser.parse_args()
    from patch2loc.run.configfiles import load

    demo = load([REPO / "config" / "demo.yaml"])  # with the paper keys it does not change
    seed, spacing, pre = demo["demo"]["seed"], demo["demo"]["spacing"], demo["preprocess"]
    raw, out = args.workdir / "raw", args.workdir / "preprocessed"
    atlas = make_atlas(raw / "atlas.nii.gz", raw / "atlas_mask.nii.gz", pre["spacing"][0])
    cases = [("IXI", s) for s in demo_subject_ids("IXI", args.ixi)]
    cases += [("BraTS21", "BraTS2021_90000"), ("MSLUB", "patient01")]
    print("dataset subject dice mean_mm p95_mm max_mm via_t1_mean_mm via_t1_max_mm")
    rows = []
    for dataset, subject in cases:
        if not raw_paths(dataset, raw, subject, "T1").image.exists():
            synthesize_dataset(
                dataset, [subject], raw, seed, spacing, ("T1", "T2") if dataset == "IXI" else ("T2", "T1")
            )
        files = {}
        for contrast in ("T1", "T2"):
            skull = "none" if dataset == "BraTS21" else "provided"
            cfg = PreprocessConfig.from_config(pre, skull_strip=skull)
            folder = out / dataset / contrast / subject
            if not (folder / "transform.tfm").exists():  # a rerun reuses the preprocessing
                preprocess_scan(raw_paths(dataset, raw, subject, contrast), *atlas, folder, cfg)
            files[contrast] = (folder / "mask.nii.gz", folder / "transform.tfm")
        grid = "T2" if dataset != "IXI" else None
        s = subject_seed(seed, dataset, subject)
        poses = {c: render_scan(dataset, c, s, spacing, grid_of=grid, noise=False).pose for c in ("T1", "T2")}
        truth = poses["T1"] @ np.linalg.inv(poses["T2"])  # T2's native world -> T1's
        d = displacement_mm(files["T1"][0], files["T2"][0], files["T1"][1], files["T2"][1], truth)
        dice = mask_dice(files["T1"][0], files["T2"][0])
        # the alternative: T2 registered to the subject's T1 (the chain's registration, affine MI), then
        # carried to the atlas with T1's transform
        scans = {c: raw_paths(dataset, raw, subject, c) for c in ("T1", "T2")}
        t1, t2 = (native_brain(scans[c].image, scans[c].mask, cfg.spacing) for c in ("T1", "T2"))
        t2_via_t1 = via_reference_mm(files["T1"][0], files["T1"][1], register_affine(t1, t2, cfg)[0], truth)
        rows.append((dataset, dice, d.mean(), np.percentile(d, 95), d.max(), t2_via_t1.mean(), t2_via_t1.max()))
        print(
            " ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in (dataset, subject, *rows[-1][1:])),
            flush=True,
        )
    for name in ("IXI", "BraTS21", "MSLUB"):
        sub = [r for r in rows if r[0] == name]
        print(
            f"{name}: n={len(sub)} dice {statistics.mean(r[1] for r in sub):.3f}; each to the atlas: mean "
            f"{statistics.mean(r[2] for r in sub):.2f} mm, max {max(r[4] for r in sub):.2f} mm; T2 via T1: mean "
            f"{statistics.mean(r[5] for r in sub):.2f} mm, max {max(r[6] for r in sub):.2f} mm"
        )


if __name__ == "__main__":
    main()
