"""What native-space scoring (`evaluate.space: native`) adds per lesion-set volume at the demo's size.

    python benchmarks/bench_native_space.py [--workdir /tmp/bench_native] [--repeats 3]

One demo scan per lesion set (config/demo.yaml: 2 mm native scans, 3 mm atlas grid of 64 x 64 x 40)
is synthesised and preprocessed; its preprocessed image inside the brain stands in for a
post-processed map (the cost does not depend on the method). Per volume, the median of `repeats`
runs: grading in atlas space (voxel-wise + lesion-wise metrics on the atlas grid) and in native
space (the map taken back, the raw labels and native mask read, the same metrics on the scan's grid).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def grade(score, truth, brain, spacing):
    from patch2loc.evaluation.lesionwise.rule import LesionRule
    from patch2loc.evaluation.lesionwise.volume import lesion_metrics
    from patch2loc.scoring.metrics import evaluate_volume

    threshold = float(np.quantile(score[brain], 0.98))
    evaluate_volume(score, truth, brain, threshold=threshold)
    lesion_metrics((score >= threshold) & brain, truth & brain, spacing, LesionRule())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", default="/tmp/bench_native")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="one lesion set, one repeat: every path in seconds")
    args = parser.parse_args()
    from patch2loc.evaluation.dataset.scan_grid import NativeFiles, load_native
    from patch2loc.files.io import load_case
    from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan
    from patch2loc.synth import demo_subject_ids, make_atlas, synthesize_scan

    from patch2loc.run.configfiles import load

    demo = load([REPO / "config" / "demo.yaml"])  # with the paper keys it does not change
    if args.tiny:  # the tests' small run: 4 mm scans on a 6 mm atlas grid, a short N4
        demo["demo"]["spacing"] = 4.0
        demo["preprocess"] |= {"spacing": [6.0] * 3, "target_shape": [32, 32, 20], "n4_iterations": [5]}
    work = Path(args.workdir)
    atlas = make_atlas(work / "atlas.nii.gz", work / "atlas_mask.nii.gz", spacing=demo["preprocess"]["spacing"][0])
    sets = (("BraTS21", "T2"), ("MSLUB", "T2"), ("ATLAS_v2", "T1"), ("WMH", "T2"))
    for dataset, modality in sets[:1] if args.tiny else sets:
        scan = synthesize_scan(
            dataset, modality, demo_subject_ids(dataset, 1)[0], work / "raw", 1, demo["demo"]["spacing"]
        )
        pre = work / "pre" / dataset
        skull = demo["datasets"][dataset]["skull_strip"]
        preprocess_scan(scan, *atlas, pre, PreprocessConfig.from_config(demo["preprocess"], skull_strip=skull))
        case = load_case(pre / "image.nii.gz", pre / "mask.nii.gz", pre / "seg.nii.gz")
        score = case.image.data * case.mask
        files = NativeFiles(str(scan.image), str(scan.seg), str(pre / "native_mask.nii.gz"), str(pre / "transform.tfm"))
        atlas_s, native_s = [], []
        for _ in range(1 if args.tiny else args.repeats):
            t0 = time.perf_counter()
            grade(score, case.seg, case.mask, np.linalg.norm(case.image.affine[:3, :3], axis=0))
            t1 = time.perf_counter()
            nv = load_native(files, score, case.mask, case.image.affine)
            grade(nv.score, nv.labels > 0, nv.brain, nv.spacing)
            t2 = time.perf_counter()
            atlas_s.append(t1 - t0)
            native_s.append(t2 - t1)
        print(
            f"{dataset}: atlas grid {case.mask.shape} {statistics.median(atlas_s):.2f} s, native grid "
            f"{nv.brain.shape} {statistics.median(native_s):.2f} s"
        )


if __name__ == "__main__":
    main()
