"""Diffusion models' speed (DDPM, pDDPM, cDDPM and cDDPM's encoder pre-training): training steps/s
and scoring seconds per volume, at the demo's and the paper's shapes.

Synthetic volumes (random intensities in an ellipsoidal brain; shape matters, content does not),
the real training step (`DiffusionTask.train_step` / `PretrainTask.train_step`: sampling, simplex
noise, UNet (+ encoder), L1, Adam) and the real scoring (`score.anomaly_map`), timed after warm-up
steps, one after the other in one process. Also counts the floating-point operations of one step
and one scored volume (torch's FlopCounterMode), from which the GPU cost of the paper config is
ESTIMATED (FLOPs / an assumed sustained throughput, --gpu-tflops): no GPU was used.

At the paper shape a CPU step of 32 slices takes minutes, so it is timed and counted at
--paper-batch slices and scaled to the config's batch (every operation is linear in the batch),
and a volume is scored with --paper-slices axial slices and scaled to 100 (linear in the slices).

    python benchmarks/bench_diffusion.py                      # CPU, 1 thread: demo + paper shapes
    python benchmarks/bench_diffusion.py --only demo          # the demo shapes only
    python benchmarks/bench_diffusion.py --device cuda --threads 8 --paper-batch 32 --paper-slices 100
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench_dae import PAPER_VOLUMES, add_gpu_tflops, add_timing_args, sync, volumes
from patch2loc.registry import REGISTRY, implementation
from patch2loc.methods.diffusion import pretrain, score, train, variants
from patch2loc.training.harness import prepare_device, seed_everything
from patch2loc.training.training_data import TrainingData

# The diffusion methods of the registry and their config dataclasses (what differs between them is there:
# a patch square when its default patch_size is set, a conditioning encoder when its default encoder is).
CONFIGS = {m.name: implementation(m.name).Settings for m in REGISTRY if m.module.startswith(variants.__package__ + ".")}
# the grid, pDDPM's square, cDDPM's encoder and its pre-training's decoder width per shape (as the configs)
SHAPES = {
    "demo": dict(side=64, slices=40, rescale=1, patch=32, encoder="resnet18", decoder=128),
    "paper": dict(side=192, slices=100, rescale=2, patch=48, encoder="resnet50", decoder=512),
    "tiny": dict(side=32, slices=4, rescale=1, patch=16, encoder="resnet18", decoder=128),  # --tiny only
}
PAPER_BATCH, PAPER_STEPS = (
    32,
    {**{name: cls.steps for name, cls in CONFIGS.items()}, "pretrain": pretrain.PretrainConfig.steps},
)


def data_of(side: int, slices: int) -> tuple[TrainingData, tuple]:
    images, masks = volumes(3, side, slices)
    return TrainingData(
        images[:2], masks[:2], images[2:], masks[2:], {"train": ["a", "b"], "val": ["c"]}, (192.0 / side,) * 3
    ), (images[2], masks[2])


def timed(step, n: int, device) -> float:
    sync(device)
    t0 = time.perf_counter()
    for i in range(n):
        loss = step(i)
    loss.item()
    sync(device)
    return (time.perf_counter() - t0) / n


def flops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def time_scoring(model, image, mask, device, scale: float) -> dict:
    """Seconds and GFLOP to score one volume (after a warm-up), scaled to the paper's 100 slices."""
    model.eval()
    score.anomaly_map(model, image, mask, device)  # warm-up
    sync(device)
    t0 = time.perf_counter()
    score.anomaly_map(model, image, mask, device)
    sync(device)
    seconds = time.perf_counter() - t0
    gflop = flops(lambda: score.anomaly_map(model, image, mask, device))
    return {"volume_s": seconds * scale, "volume_gflop": gflop * scale}


def measure(method: str, shape: str, width: int, batch: int, blocks: int, args, device) -> dict:
    s = SHAPES[shape]
    paper = shape == "paper"
    slices = args.paper_slices if paper else s["slices"]
    data, (image, mask) = data_of(s["side"], slices)
    common = dict(
        steps=10**6,
        batch_size=batch,
        width=width,
        blocks=blocks,
        rescale=s["rescale"],
        val_batches=1,
        device=str(device),
    )
    seed_everything(0)
    if method == "pretrain":
        cfg = pretrain.PretrainConfig(
            steps=10**6,
            batch_size=batch,
            rescale=s["rescale"],
            encoder=s["encoder"],
            decoder_width=s["decoder"],
            val_batches=1,
            device=str(device),
        )
        task = pretrain.PretrainTask(data, cfg, device)
        model = None
    else:
        defaults = CONFIGS[method]
        extra = {"patch_size": s["patch"]} if defaults.patch_size is not None else {}
        extra |= {"encoder": s["encoder"]} if defaults.encoder is not None else {}
        cfg = defaults(**common, **extra)
        task = train.DiffusionTask(data, cfg, train.frequency_px(cfg, data.spacing), device)
        model = task.model.eval()
        model.scoring = {
            "test_steps": cfg.test_steps,
            "noise_octaves": 6,
            "noise_persistence": 0.8,
            "noise_frequency_px": task.frequency,
            "seed": 0,
        }
        model.train()
    steps = args.paper_steps if paper and device.type == "cpu" else args.steps
    for i in range(args.warmup):
        task.train_step(i)
    step_s = timed(task.train_step, steps, device)
    step_gflop = flops(lambda: task.train_step(0))
    row = {
        "method": method,
        "shape": shape,
        "width": width,
        "batch": batch,
        "blocks": blocks,
        "params": sum(p.numel() for p in task.model.parameters()),
        "step_s": step_s,
        "step_gflop": step_gflop,
    }
    if model is not None:
        row |= time_scoring(model, image, mask, device, s["slices"] / slices if paper else 1.0)
    scale = PAPER_BATCH / batch if paper else 1
    print(
        f"{method:8s} {shape:5s} width {width:3d} blocks {blocks} batch {batch:2d}: {row['params']:>11,d} parameters, "
        f"{1 / step_s:7.3f} steps/s ({step_gflop:8.1f} GFLOP/step, {step_gflop / step_s:6.1f} GFLOP/s)"
        + (
            f"; paper batch {PAPER_BATCH}: {step_gflop * scale:8.1f} GFLOP/step, {step_s * scale:7.1f} s/step"
            if paper
            else ""
        )
        + (f"; scoring {row['volume_s']:6.2f} s/volume ({row['volume_gflop']:7.1f} GFLOP)" if model else ""),
        flush=True,
    )
    row["paper_step_gflop"] = step_gflop * scale
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing_args(ap, steps=10, paper_steps=1)
    ap.add_argument("--paper-batch", type=int, default=2, help="slices per step timed at the paper shape")
    ap.add_argument("--paper-slices", type=int, default=8, help="axial slices of the volume scored at the paper shape")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--only", choices=sorted(SHAPES))
    ap.add_argument("--methods", nargs="+", default=[*CONFIGS, "pretrain"])
    ap.add_argument("--demo", nargs="+", default=["16,8,2"], help="WIDTH,BATCH,BLOCKS at the demo shape")
    add_gpu_tflops(ap)
    ap.add_argument("--demo-steps", type=int, nargs="+", default=[300, 600], help="demo step counts to cost")
    ap.add_argument("--tiny", action="store_true", help="a 32-pixel shape, one step per method: every path in seconds")
    args = ap.parse_args()
    if args.tiny:
        args.only, args.steps, args.warmup, args.demo = "tiny", 1, 0, ["16,2,1"]
    device = prepare_device(args.device, args.threads)
    print(f"device {device}, {torch.get_num_threads()} CPU thread(s), torch {torch.__version__}")
    rows = []
    for shape in [s for s in SHAPES if args.only == s or (args.only is None and s != "tiny")]:
        for method in args.methods:
            if shape == "paper":
                rows.append(measure(method, shape, 128, args.paper_batch, 3, args, device))
            else:
                for spec in args.demo:
                    width, batch, blocks = (int(v) for v in spec.split(","))
                    rows.append(measure(method, shape, width, batch, blocks, args, device))
    for row in rows:
        if row["shape"] in ("demo", "tiny"):
            costs = ", ".join(f"{n} steps {n * row['step_s'] / 60:5.1f} min" for n in args.demo_steps)
            print(f"{row['method']:8s} demo width {row['width']}: one model on this device: {costs}")
    paper = [r for r in rows if r["shape"] == "paper"]
    if paper:
        print("paper config (ESTIMATE from FLOPs, not measured on a GPU), per (modality, fold) and for 10 of them:")
    total_train = total_score = 0.0
    for row in paper:
        train_pflop = row["paper_step_gflop"] * PAPER_STEPS[row["method"]] / 1e6
        score_pflop = row.get("volume_gflop", 0.0) * PAPER_VOLUMES / 1e6
        total_train += 10 * train_pflop
        total_score += score_pflop
        print(
            f"  {row['method']:8s} training {PAPER_STEPS[row['method']]:,d} steps x {PAPER_BATCH} slices = "
            f"{train_pflop:6.1f} PFLOP; scoring {PAPER_VOLUMES:,d} volume-scorings = {score_pflop:5.1f} PFLOP"
        )
        for tflops in args.gpu_tflops:
            one = train_pflop * 1e3 / tflops / 3600
            print(
                f"      at {tflops:4.0f} TFLOP/s: {one:5.2f} GPU-h per training, {10 * one:5.1f} for 10; "
                f"scoring {score_pflop * 1e3 / tflops / 3600:5.2f} GPU-h"
            )
    if paper:
        for tflops in args.gpu_tflops:
            print(
                f"  all diffusion jobs at {tflops:4.0f} TFLOP/s: {(total_train + total_score) * 1e3 / tflops / 3600:6.1f} GPU-h"
            )


if __name__ == "__main__":
    main()
