"""Surface-distance and lesion-matching libraries compared for the lesion-wise metrics (Table 3).

Each candidate that imports in this Python is run on
- the hand case of tests/evaluation/test_lesionwise.py (two lesions, one found, one false-positive blob;
  1 mm voxels): its HD95 beside the hand value under the WMH challenge's definition (boundary
  voxels, voxel-centre distances, the larger of the two directed 95th percentiles, numpy's linear
  percentile): 16.3 mm;
- thresholded maps of the demo's shape (64x64x40, 3 mm) and the paper's (192x192x100, 1 mm):
  smooth noise above its 98th percentile inside an ellipsoidal brain (many small components, as
  the unsupervised threshold gives) against a few spherical lesions; seconds per call, median of
  `--repeats`, after one warm-up call; and the seconds `import` took.

    python benchmarks/bench_lesion_metrics.py            # every candidate installed here
    /other/venv/bin/python benchmarks/bench_lesion_metrics.py --only panoptica

Candidates: patch2loc's own (MONAI's definition with scipy: evaluation/lesionwise/volume.py),
monai (compute_hausdorff_distance), surface-distance (DeepMind's compute_robust_hausdorff),
panoptica (its HD95 and its connected-component matching). Numbers go to docs/measurements.md with
the machine and the date.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

HAND_HD95 = 16.3  # tests/evaluation/test_lesionwise.py: max(10.85, 16.3)


def hand_case() -> tuple[np.ndarray, np.ndarray]:
    """(prediction, ground truth) of the test's hand case, 40x40x20 voxels of 1 mm."""
    gt = np.zeros((40, 40, 20), bool)
    pred = np.zeros_like(gt)
    gt[10:12, 10, 10] = True  # lesion A: 2 voxels
    gt[30, 10, 10] = True  # lesion B: 1 voxel, missed
    pred[11:13, 10, 10] = True  # touches A
    pred[10, 20:22, 10] = True  # false-positive blob
    return pred, gt


def synthetic_case(shape, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    brain = (grid**2).sum(0) < 0.8
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    pred = brain & (noise > np.quantile(noise[brain], 0.98))
    gt = np.zeros(shape, bool)
    for centre, radius in [((0.3, 0.2, 0.1), 0.15), ((-0.4, -0.1, 0.0), 0.06), ((0.0, 0.5, -0.3), 0.03)]:
        gt |= ((grid - np.array(centre)[:, None, None, None]) ** 2).sum(0) < radius**2
    return pred, gt


def monai_hd95(pred, gt, spacing):
    import torch
    from monai.metrics import compute_hausdorff_distance

    to = lambda m: torch.from_numpy(m[None, None])  # noqa: E731  (batch, channel, x, y, z)
    return float(
        compute_hausdorff_distance(to(pred), to(gt), include_background=True, percentile=95, spacing=list(spacing))[
            0, 0
        ]
    )


def surface_distance_hd95(pred, gt, spacing):
    import surface_distance

    return float(
        surface_distance.compute_robust_hausdorff(
            surface_distance.compute_surface_distances(gt, pred, list(spacing)), 95
        )
    )


def panoptica_hd95(pred, gt, spacing):
    from panoptica.metrics.hausdorff_distance import _compute_hausdorff_distance95

    return float(_compute_hausdorff_distance95(gt, pred, voxelspacing=spacing))


def panoptica_counts(pred, gt):
    """(tp, fp, fn) of panoptica's connected components, matched one-to-one (IoU > 0)."""
    from panoptica import (
        ConnectedComponentsInstanceApproximator,
        InputType,
        NaiveThresholdMatching,
        Panoptica_Evaluator,
    )
    from panoptica.metrics import Metric

    evaluator = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC,
        instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=NaiveThresholdMatching(matching_metric=Metric.IOU, matching_threshold=0.0),
    )
    result = evaluator.evaluate(pred.astype(np.uint8), gt.astype(np.uint8))
    result = next(iter(result.values())) if isinstance(result, dict) else result
    result = result[0] if isinstance(result, tuple) else result
    return result.tp, result.fp, result.fn


def patch2loc_hd95(pred, gt, spacing):
    from patch2loc.evaluation.lesionwise.volume import hd95

    return hd95(pred, gt, spacing)


CANDIDATES = {
    "patch2loc": ("patch2loc.evaluation.lesionwise.volume", patch2loc_hd95),
    "monai": ("monai.metrics", monai_hd95),
    "surface-distance": ("surface_distance", surface_distance_hd95),
    "panoptica": ("panoptica", panoptica_hd95),
}


def seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=list(CANDIDATES))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tiny", action="store_true", help="32 x 32 x 16 cases, one call each: every path in seconds")
    args = ap.parse_args(argv)
    if args.tiny:
        args.repeats = 1
    try:  # monai needs torch; the scoring jobs have it loaded already, so its import is not counted
        import torch  # noqa: F401
    except ImportError:
        pass

    demo, paper = ((32, 32, 16), (32, 32, 16)) if args.tiny else ((64, 64, 40), (192, 192, 100))
    cases = {
        "demo 64x64x40, 3 mm": (synthetic_case(demo), (3.0, 3.0, 3.0)),
        "paper 192x192x100, 1 mm": (synthetic_case(paper), (1.0, 1.0, 1.0)),
    }
    for (pred, gt), _ in cases.values():
        print(
            f"  case: {ndimage.label(pred, np.ones((3, 3, 3)))[1]} predicted components, {ndimage.label(gt)[1]} lesions"
        )
    t0 = time.perf_counter()
    labelled = seconds(lambda: ndimage.label(cases["paper 192x192x100, 1 mm"][0][0], np.ones((3, 3, 3))), args.repeats)
    print(f"scipy.ndimage.label (26-connected), paper shape: {labelled:.3f} s ({time.perf_counter() - t0:.1f} s)")
    for name in args.only:
        module, hd95 = CANDIDATES[name]
        t0 = time.perf_counter()
        try:
            __import__(module)
        except ImportError as err:
            print(f"{name}: not installed here ({err})")
            continue
        imported = time.perf_counter() - t0
        hand = hd95(*hand_case(), (1.0, 1.0, 1.0))
        line = f"{name}: import {imported:.2f} s; hand case HD95 {hand:.3f} mm (WMH definition: {HAND_HD95})"
        for label, ((pred, gt), spacing) in cases.items():
            line += f"; {label}: {seconds(lambda: hd95(pred, gt, spacing), args.repeats):.3f} s"
        print(line)
        if name == "panoptica":
            print(
                f"  panoptica matching on the hand case: tp, fp, fn = {panoptica_counts(*hand_case())} "
                "(WMH rule: 1 lesion found, 1 missed, 1 false-positive component)"
            )
            merged_pred, merged_gt = np.zeros((20, 20, 20), bool), np.zeros((20, 20, 20), bool)
            merged_gt[5, 5, 5] = merged_gt[5, 8, 5] = True
            merged_pred[5, 4:10, 5] = True  # one component over both lesions
            print(
                f"  one component over two lesions: tp, fp, fn = {panoptica_counts(merged_pred, merged_gt)} "
                "(WMH rule: both lesions found, no false positive)"
            )


if __name__ == "__main__":
    main()
