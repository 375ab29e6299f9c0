"""Patch2Loc at the paper's scale: training steps/s per precision, the dense stride-1 heatmap of one
volume (the project's scheme beside the authors'), and how the precisions agree on the same weights."""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from gpu.common import Sizes, brains, host_rss_gib, paper_config, peak_gib, reset_peak, seconds, rates_per_variant
from patch2loc.methods.patch2loc.patch_size import patch_size_for
from patch2loc.methods.patch2loc.train import Patch2LocTask, TrainConfig
from patch2loc.training.training_data import TrainingData
from patch2loc.scoring.metrics import evaluate_volume
from patch2loc.scoring.postprocess import postprocess

from authors_heatmap import authors_scores, synthetic_case  # (the CPU benchmark's re-implementation)

# The precisions Patch2Loc's config offers (patch2loc.amp) and its channels_last switch.
TRAIN_VARIANTS = ("none", "bf16", "fp16", "bf16-cl", "fp16-cl")
HEATMAP_PRECISIONS = ("none", "bf16", "fp16")


def training_data(sizes: Sizes, images: np.ndarray, masks: np.ndarray) -> TrainingData:
    names = {"train": [f"t{i}" for i in range(len(images) - 2)], "val": ["v0", "v1"]}
    return TrainingData(images[:-2], masks[:-2], images[-2:], masks[-2:], names, (1.0, 1.0, 1.0))


def task_of(data: TrainingData, sizes: Sizes, device: torch.device, variant: str, **extra) -> Patch2LocTask:
    amp, _, cl = variant.partition("-")
    paper = paper_config()["patch2loc"]
    cfg = TrainConfig(
        patches_per_step=sizes.patches,
        lr=paper["lr"],
        beta=paper["beta"],
        min_brain_fraction=paper["min_brain_fraction"],
        amp=amp,
        channels_last=cl == "cl",
        device=str(device),
        **extra,
    )
    torch.manual_seed(0)
    return Patch2LocTask(data, cfg, patch_size_for(sizes.grid[0]), device)


def training_rates(sizes: Sizes, device: torch.device, variants=TRAIN_VARIANTS, repeats: int = 1) -> dict:
    """Steps/s, the 15,000-step time and peak memory per precision, at the paper's batch; with
    `repeats`, each variant timed that many times in turn (run-to-run spread: `name#k`)."""
    images, masks = brains(sizes.subjects + 2, sizes.grid)
    data = training_data(sizes, images, masks)
    steps = paper_config()["patch2loc"]["steps"]
    rows = {"subjects": sizes.subjects, "patches_per_step": sizes.patches, "paper_steps": steps}
    rows["host_rss_gib_with_data"] = host_rss_gib()
    make = partial(task_of, data, sizes, device)
    for k in range(repeats):
        got = rates_per_variant("Patch2Loc", variants, make, steps, sizes, device)
        rows.update(got if k == 0 else {f"{v}#{k + 1}": row for v, row in got.items()})
    return rows


def trained_model(sizes: Sizes, device: torch.device, steps: int):
    """A model trained briefly (bf16) on smooth synthetic brains, so that the maps compared below
    are those of a model that has learnt something, not of random weights."""
    cases = [synthetic_case(sizes.grid, seed=s) for s in range(6)]
    images = np.stack([c[0] for c in cases])
    masks = np.stack([c[1] for c in cases])
    task = task_of(training_data(sizes, images, masks), sizes, device, "bf16", warmup_steps=0)
    for i in range(steps):
        task.train_step(i)
    return task.model.eval()


def heatmaps(sizes: Sizes, device: torch.device, train_steps: int) -> dict:
    """One volume scored densely at stride 1 under each precision and by the authors' scheme:
    seconds, peak memory, and each map's agreement with fp32 and AUPRC on the synthetic lesion."""
    from patch2loc.methods.patch2loc.heatmap import score_volume

    model = trained_model(sizes, device, train_steps)
    volume, mask, seg = synthetic_case(sizes.grid, seed=99, lesion=True)
    if sizes.tiny:  # the paths, not the speed: the four middle slices (the lesion's among them), half the CPU time
        volume, mask, seg = (np.ascontiguousarray(a[:, :, 2:6]) for a in (volume, mask, seg))
    batch = paper_config()["heatmap"]["batch_size"]
    rows, maps = {"volume": list(volume.shape), "train_steps": train_steps}, {}
    runs = [(amp, batch, "auto", False, f"project_{amp}") for amp in HEATMAP_PRECISIONS]
    # the engines side by side (heatmap/inference.py), the compiled encoder, then other batches
    runs += [("bf16", batch, engine, False, f"project_bf16_{engine}") for engine in ("plain", "folded-untrimmed")]
    runs += [("bf16", batch, "auto", True, "project_bf16_compiled")]
    runs += [("bf16", b, "auto", False, f"project_bf16_batch{b}") for b in (batch // 4, 4 * batch)]
    for amp, size, engine, compiled, name in runs:
        patches = rows.get("project_bf16", {}).get("patches")
        if size != batch and patches is not None and patches <= min(size, batch):
            # every patch fits one batch at either size: the same single batch as project_bf16 (tiny sizes)
            rows[name] = {"batch_size": size, "skipped": f"{patches} patches fit one batch, as in project_bf16"}
            continue
        run = partial(score_volume, model, batch_size=size, device=device, amp=amp, engine=engine, compile=compiled)
        first = None  # tiny: no warm-up (the path, not the speed); else the tuning (and compiling)
        if not sizes.tiny:
            _, first = seconds(lambda: run(volume[:, :, :2], mask[:, :, :2]), device)
        reset_peak(device)
        res, sec = seconds(lambda: run(volume, mask), device)
        if not sizes.tiny:  # the steady state a job of many volumes runs at (tiny: the path, not the speed)
            res, sec = seconds(lambda: run(volume, mask), device)
        maps.setdefault(amp if engine == "auto" and not compiled else name.removeprefix("project_"), res.score)
        rows[name] = {"seconds": sec, "patches": res.n_patches, "peak_gib": peak_gib(device), "batch_size": size}
        rows[name].update(engine=engine, compiled=compiled, warm_up_s=first)
    slices = np.arange(volume.shape[2]) if sizes.heatmap_slices is None else np.arange(sizes.heatmap_slices)
    reset_peak(device)
    forward = None if device.type == "cuda" else 512
    authors, sec = seconds(lambda: authors_scores(model, volume, mask, slices, device, forward), device)
    scale = volume.shape[2] / len(slices)  # a CPU times a few slices: scaled to the volume
    rows["authors_fp16"] = {"seconds": sec * scale, "slices_timed": len(slices), "peak_gib": peak_gib(device)}
    median = paper_config()["heatmap"]["median_size"]  # the core's filter: on the scoring's GPU, if any
    on = device if device.type == "cuda" else None
    post, rows["postprocess_s"] = seconds(lambda: postprocess(maps["bf16"], mask, median, on), device)
    cpu_post, rows["postprocess_cpu_s"] = seconds(lambda: postprocess(maps["bf16"], mask, median), device)
    rows["postprocess_max_abs_diff_from_scipy"] = float(np.abs(post - cpu_post).max())
    if on is not None:
        rows["median_variants"] = median_variants(maps["bf16"], mask, median, on, cpu_post)
    rows["agreement"] = agreement(maps, authors, slices, volume, mask, seg, on)
    for name, row in rows.items():
        print(f"heatmap {name}: {row}", flush=True)
    return rows


def agreement(maps: dict, authors: np.ndarray, slices, volume, mask, seg, on=None) -> dict:
    """Max |map - fp32 map| in the brain (raw and after the 7^3 median filter) and AUPRC per precision."""
    median = paper_config()["heatmap"]["median_size"]
    ref, ref_post = maps["none"], postprocess(maps["none"], mask, median, on)
    out = {}
    for amp, raw in maps.items():
        post = postprocess(raw, mask, median, on)
        out[amp] = {
            "max_abs_diff_raw": float(np.abs(raw - ref)[mask].max()),
            "max_abs_diff_post": float(np.abs(post - ref_post)[mask].max()),
            "auprc": evaluate_volume(post, seg, mask)["auprc"],
        }
    sub = maps["none"][:, :, slices]
    out["authors_fp16"] = {"max_abs_diff_raw": float(np.abs(authors - sub)[mask[:, :, slices]].max())}
    if len(slices) == volume.shape[2]:  # the whole volume: its AUPRC is comparable
        out["authors_fp16"]["auprc"] = evaluate_volume(postprocess(authors, mask, median, on), seg, mask)["auprc"]
    return out


def median_variants(score: np.ndarray, mask: np.ndarray, size: int, device: torch.device, exact: np.ndarray) -> dict:
    """The 7^3 median at the mask's voxels by each exact reduction torch offers, and CuPy's whole-volume
    filter where CuPy is installed: seconds and the largest difference from SciPy's."""
    from patch2loc.scoring.median import REDUCTIONS, masked_median

    rows = {}
    brain = exact * mask
    for how in REDUCTIONS:
        masked_median(score, mask, (size,) * 3, device, how)  # warm-up
        got, sec = seconds(lambda: masked_median(score, mask, (size,) * 3, device, how), device)
        rows[how] = {"seconds": sec, "max_abs_diff": float(np.abs(got - brain).max())}
    try:
        import cupy
        from cupyx.scipy import ndimage as cnd

        run = lambda: cupy.asnumpy(cnd.median_filter(cupy.asarray(score), size=size))  # noqa: E731
        run()
        got, sec = seconds(run, device)
        rows["cupy_whole_volume"] = {"seconds": sec, "max_abs_diff": float(np.abs(got * mask - brain).max())}
    except Exception as err:  # no CuPy here: the torch rows stand alone
        rows["cupy_whole_volume"] = {"error": f"{type(err).__name__}: {err}"[:200]}
    print(f"median variants: {rows}", flush=True)
    return rows
