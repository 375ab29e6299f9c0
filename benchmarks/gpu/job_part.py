"""A scoring job as the workflow runs one (evaluation/dataset/score_dataset.py: read, score, grade,
write), timed per volume: one volume after another beside the prefetching pipeline at the job's
grading threads. What the GPU is held for is the job's time; what it needs is the networks' share.

Volumes on the paper's atlas grid with a lesion each, written as NIfTI; graded on that grid
(`evaluate.space: atlas`: the benchmark has no raw scans to grade natively), at the unsupervised
threshold of the method's map on the first volume, as a run's masks are graded."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gpu.common import Sizes, paper_config, sync
from gpu.methods_part import FAMILIES, paper_data, trained
from patch2loc.evaluation.dataset import score_dataset
from patch2loc.evaluation.dataset.pipeline import sequential
from patch2loc.evaluation.dataset.score_dataset import Scan, ScoringConfig, score_healthy, score_lesions


def lesion_volumes(folder: Path, sizes: Sizes, n: int) -> list[Scan]:
    """`n` brain-shaped volumes of random intensities on `sizes.grid`, each with a brighter spherical
    lesion, written as NIfTI into `folder`: a lesion set's scans."""
    import nibabel as nib

    rng = np.random.default_rng(5)
    axes = [np.linspace(-1, 1, s, dtype=np.float32) for s in sizes.grid]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    scans = []
    for i in range(n):
        grow = 1 + 0.01 * i  # brains of different sizes, as a dataset's are: a new patch count each
        brain = (x / (0.8 * grow)) ** 2 + (y / 0.9) ** 2 + (z / 0.95) ** 2 <= 1
        seg = ((x - 0.3 + 0.05 * i) ** 2 + y**2 + z**2 < 0.03) & brain
        image = (rng.random(sizes.grid, dtype=np.float32) * brain + seg).astype(np.float32)
        files = {}
        for name, data in (("image", image), ("mask", brain.astype(np.uint8)), ("seg", seg.astype(np.uint8))):
            files[name] = folder / f"v{i}_{name}.nii.gz"
            nib.save(nib.Nifti1Image(data, np.eye(4)), files[name])
        scans.append(Scan(f"v{i}", str(files["image"]), str(files["mask"]), str(files["seg"])))
    return scans


META = {"modality": "T1", "fold": "0", "dataset": "BraTS21"}


def _threshold(method: str, model, scans: list[Scan], cfg: ScoringConfig, out: Path) -> float:
    """The unsupervised threshold the workflow's chain gives (score_healthy: a quantile of in-brain
    scores), so the graded masks are as sparse as a run's; the first scoring also warms up."""
    return score_healthy(method, scans, cfg, {"method": method, **META}, out, model)[0]


def _job(method: str, model, scans: list[Scan], cfg: ScoringConfig, threshold: float, device, out: Path) -> float:
    sync(device)
    t0 = time.perf_counter()
    score_lesions(method, scans, cfg, {"method": method, **META}, threshold, out, model)
    sync(device)
    return (time.perf_counter() - t0) / len(scans)


def scoring_jobs(
    sizes: Sizes, device: torch.device, methods: list[str], volumes: int, graders: int, rows: dict, save
) -> dict:
    """{method: seconds per volume one after another, and pipelined with `graders` threads} into
    `rows`, saved after each method (a time limit keeps what was measured)."""
    paper = paper_config()
    heatmap = {**paper["heatmap"], "threads": graders + 2}
    evaluate = {**paper["evaluate"], "space": "atlas", "keep_heatmaps": 0}
    cfg = ScoringConfig.from_workflow(heatmap, evaluate, device=str(device))
    rows.update(volumes=volumes, graders=cfg.graders, space="atlas")
    data = paper_data(sizes, 4) if any(m in FAMILIES for m in methods) else None
    with tempfile.TemporaryDirectory() as tmp:
        scans = lesion_volumes(Path(tmp), sizes, volumes)
        for method in methods:
            # the competitors' models from their trainers; Patch2Loc's from its own part
            model = trained(method, data, sizes, device) if method in FAMILIES else _patch2loc_model(sizes, device)
            threshold = _threshold(method, model, scans[:1], cfg, Path(tmp) / "warm")
            piped = _job(method, model, scans, cfg, threshold, device, Path(tmp) / "piped")
            original = score_dataset.pipelined
            score_dataset.pipelined = sequential  # no prefetch, no graders, the median after the network
            try:
                one_by_one = _job(method, model, scans, cfg, threshold, device, Path(tmp) / "seq")
            finally:
                score_dataset.pipelined = original
            rows[method] = {"sequential_s_per_volume": one_by_one, "pipelined_s_per_volume": piped}
            save()
            print(f"job {method:15s}: {one_by_one:6.2f} s/volume one by one, {piped:6.2f} pipelined", flush=True)
    return rows


def _patch2loc_model(sizes: Sizes, device: torch.device):
    from gpu.patch2loc_part import trained_model

    return trained_model(sizes, device, 2)
