"""What a scoring job spends beside its network: reading and grading volumes, timed per volume on
the CPU, with 1 and more grading threads and at two thresholds.

A scoring job's grading (evaluation/dataset/score_dataset.py: the WMH counts, HD95, AUPRC and Dice
curves, the patch statistics) is what keeps a small network's GPU waiting. This runs the job's own
code with Thresh and its median filter off (the map is the image: no network, no filter), so only
reading and grading are timed, on brain-shaped volumes of the paper's grid with a lesion each:
- at the unsupervised threshold (score_healthy's quantile of the in-brain scores): the sparse masks
  a run grades;
- at a fixed 0.5, half of each brain above it: the surfaces HD95 walks grow with the mask, the
  worst case the GPU benchmark's job part graded before it took the unsupervised threshold too.
Prints seconds per volume and the ratios measured side by side in this run: the thread scaling
(1 grader / n graders) and fixed / unsupervised.

    python benchmarks/bench_grading.py                 # paper grid, 6 volumes, 1 and 2 graders
    python benchmarks/bench_grading.py --graders 1 14  # a GPU machine's 16 cores
    python benchmarks/bench_grading.py --tiny          # 24 x 24 x 12 volumes (CI)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from gpu.common import Sizes, paper_config
from gpu.job_part import META, lesion_volumes
from patch2loc.evaluation.dataset.score_dataset import ScoringConfig, score_healthy, score_lesions

TINY_GRID = (24, 24, 12)


def _config(graders: int) -> ScoringConfig:
    paper = paper_config()
    heatmap = {**paper["heatmap"], "median_size": 1, "threads": graders + 2}  # the rule's threads less two grade
    evaluate = {**paper["evaluate"], "space": "atlas", "keep_heatmaps": 0}
    return ScoringConfig.from_workflow(heatmap, evaluate, device="cpu")


def seconds_per_volume(scans, graders: int, threshold: float, out: Path) -> float:
    meta = {"method": "Thresh", **META}
    t0 = time.perf_counter()
    score_lesions("Thresh", scans, _config(graders), meta, threshold, out)
    return (time.perf_counter() - t0) / len(scans)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=6)
    parser.add_argument("--graders", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tiny", action="store_true", help="24 x 24 x 12 volumes, 2 of them")
    args = parser.parse_args(argv)
    sizes = replace(Sizes.paper(), grid=TINY_GRID, tiny=True) if args.tiny else Sizes.paper()
    grid, volumes = sizes.grid, 2 if args.tiny else args.volumes
    with tempfile.TemporaryDirectory() as tmp:
        scans = lesion_volumes(Path(tmp), sizes, volumes)
        unsupervised = score_healthy("Thresh", scans[:1], _config(1), {"method": "Thresh", **META}, Path(tmp) / "h")[0]
        seconds_per_volume(scans[:1], 1, unsupervised, Path(tmp) / "warm")  # warm-up: MONAI's import, caches
        print(f"{volumes} volumes of {grid[0]} x {grid[1]} x {grid[2]}; unsupervised threshold {unsupervised:.4f}")
        times = {}
        for name, threshold in (("unsupervised", unsupervised), ("fixed 0.5", 0.5)):
            for graders in args.graders:
                times[name, graders] = seconds_per_volume(scans, graders, threshold, Path(tmp) / "o")
                print(f"{name:12s} threshold, {graders:2d} graders: {times[name, graders]:7.3f} s/volume", flush=True)
    first, last = args.graders[0], args.graders[-1]
    for name in ("unsupervised", "fixed 0.5"):
        print(f"thread scaling ({name}): {times[name, first] / times[name, last]:.2f}x ({first} -> {last} graders)")
    print(f"fixed / unsupervised ({first} graders): {times['fixed 0.5', first] / times['unsupervised', first]:.2f}x")


if __name__ == "__main__":
    main()
