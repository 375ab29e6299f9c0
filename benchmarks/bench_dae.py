"""DAE speed: training steps/s and scoring seconds per volume, at the demo's and the paper's shapes.

Synthetic volumes (random intensities in an ellipsoidal brain; shape matters, content does not),
the real training step (`DAETask.train_step`: sampling, coarse noise, UNet, L2, clipping, Adam)
and the real scoring (`anomaly_map`), timed after warm-up steps, one after the other in one
process. Also counts the floating-point operations of one training step and one scored volume
(torch's FlopCounterMode), from which the GPU cost of the paper config is ESTIMATED on paper
(FLOPs / an assumed sustained throughput, --gpu-tflops): no GPU was used.

    python benchmarks/bench_dae.py                       # CPU, 1 thread: demo widths + paper shape
    python benchmarks/bench_dae.py --only demo           # the demo shapes only (about a minute)
    python benchmarks/bench_dae.py --device cuda --threads 8   # on a GPU machine: measured, not estimated
    python benchmarks/bench_dae.py --tiny                # a 16-pixel shape, one step (CI)

A shape is NAME=SIDE,SLICES,WIDTH,BATCH (slice side in pixels, axial slices, UNet top width,
slices per step); --shapes replaces the defaults.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from patch2loc.methods.dae.noise import noise_cells
from patch2loc.methods.dae.score import anomaly_map
from patch2loc.methods.dae.train import DAEConfig, DAETask
from patch2loc.training.harness import prepare_device, seed_everything
from patch2loc.training.training_data import TrainingData

DEFAULT_SHAPES = {
    "demo": ["demo-w8=64,40,8,16", "demo-w16=64,40,16,16", "demo-w32=64,40,32,16", "demo-w64=64,40,64,16"],
    "paper": ["paper=192,100,64,16"],
}
PAPER_STEPS = DAEConfig.steps  # the paper's (its default, docs/settings.md)
PAPER_VOLUMES = 5 * (2 * 157 + 1251 + 30 + 655 + 60)  # per fold: IXI test (T1, T2) + the four lesion sets


def add_gpu_tflops(ap: argparse.ArgumentParser) -> None:
    """The option both slice-model benchmarks (this one, bench_diffusion.py) cost the paper's config with."""
    help_ = "assumed sustained GPU throughputs (TFLOP/s) for the paper-config estimate"
    ap.add_argument("--gpu-tflops", type=float, nargs="+", default=[50.0, 100.0, 200.0], help=help_)


def add_timing_args(ap: argparse.ArgumentParser, steps: int, paper_steps: int) -> None:
    """The device and step options both slice-model benchmarks open with, each with its step counts."""
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the demo's jobs use 1)")
    ap.add_argument("--steps", type=int, default=steps, help="timed training steps per shape")
    ap.add_argument("--paper-steps", type=int, default=paper_steps, help="timed steps at the paper shape on a CPU")


def volumes(n: int, side: int, slices: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    axes = [np.linspace(-1, 1, s, dtype=np.float32) for s in (side, side, slices)]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    mask = np.broadcast_to((x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.95) ** 2 <= 1, (n, side, side, slices))
    return rng.random((n, side, side, slices), dtype=np.float32), np.ascontiguousarray(mask)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name: str, side: int, slices: int, width: int, batch: int, args, device: torch.device) -> dict:
    images, masks = volumes(3, side, slices)
    data = TrainingData(
        images[:2], masks[:2], images[2:], masks[2:], {"train": ["a", "b"], "val": ["c"]}, (192.0 / side,) * 3
    )
    cfg = DAEConfig(steps=10**6, batch_size=batch, width=width, val_batches=1, device=str(device))
    cells = (noise_cells(side, 192.0 / side, cfg.noise_cell_mm),) * 2
    seed_everything(0)
    task = DAETask(data, cfg, cells, device)
    steps = args.paper_steps if side >= 128 and device.type == "cpu" else args.steps
    for i in range(args.warmup):
        task.train_step(i)
    sync(device)
    t0 = time.perf_counter()
    for i in range(steps):
        loss = task.train_step(i)
    loss.item()
    sync(device)
    step_s = (time.perf_counter() - t0) / steps
    with FlopCounterMode(display=False) as counter:
        task.train_step(0)
    step_flops = counter.get_total_flops()
    model = task.model.eval()
    anomaly_map(model, images[2], masks[2], device)  # warm-up
    sync(device)
    t0 = time.perf_counter()
    anomaly_map(model, images[2], masks[2], device)
    sync(device)
    volume_s = time.perf_counter() - t0
    with FlopCounterMode(display=False) as counter:
        anomaly_map(model, images[2], masks[2], device)
    row = {
        "name": name,
        "shape": f"{side}x{side}x{slices}",
        "width": width,
        "batch": batch,
        "params": sum(p.numel() for p in model.parameters()),
        "steps_per_s": 1 / step_s,
        "step_gflop": step_flops / 1e9,
        "volume_s": volume_s,
        "volume_gflop": counter.get_total_flops() / 1e9,
        "timed_steps": steps,
    }
    print(
        f"{name:10s} {row['shape']:>11s} width {width:3d} batch {batch:2d}: {row['params']:>9,d} parameters, "
        f"{row['steps_per_s']:7.3f} steps/s ({row['step_gflop']:8.1f} GFLOP/step, "
        f"{row['step_gflop'] * row['steps_per_s']:6.1f} GFLOP/s), scoring {volume_s:6.2f} s/volume "
        f"({row['volume_gflop']:7.1f} GFLOP), {steps} timed steps",
        flush=True,
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing_args(ap, steps=20, paper_steps=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--only", choices=sorted(DEFAULT_SHAPES), help="one group of the default shapes")
    ap.add_argument("--shapes", nargs="+", help="NAME=SIDE,SLICES,WIDTH,BATCH ... (replaces the defaults)")
    add_gpu_tflops(ap)
    ap.add_argument("--demo-steps", type=int, nargs="+", default=[300, 600, 1200], help="demo step counts to cost")
    ap.add_argument("--tiny", action="store_true", help="a 16-pixel demo-like shape, one step: every path in seconds")
    args = ap.parse_args()
    if args.tiny:
        args.shapes, args.steps, args.warmup = ["demo-tiny=16,4,8,2"], 1, 0
    device = prepare_device(args.device, args.threads)
    shapes = args.shapes or [s for group, items in DEFAULT_SHAPES.items() if args.only in (None, group) for s in items]
    print(f"device {device}, {torch.get_num_threads()} CPU thread(s), torch {torch.__version__}")
    rows = []
    for spec in shapes:
        name, _, numbers = spec.partition("=")
        side, slices, width, batch = (int(v) for v in numbers.split(","))
        rows.append(measure(name, side, slices, width, batch, args, device))
    for row in rows:
        if row["name"].startswith("demo"):
            costs = ", ".join(f"{n} steps {n / row['steps_per_s'] / 60:5.1f} min" for n in args.demo_steps)
            print(f"{row['name']:10s} one model on this device: {costs}")
        if row["name"].startswith("paper"):
            train_pflop = row["step_gflop"] * PAPER_STEPS / 1e6
            score_pflop = row["volume_gflop"] * PAPER_VOLUMES / 1e6
            print(
                f"paper config (ESTIMATE, not measured on a GPU): one training of {PAPER_STEPS:,d} steps = "
                f"{train_pflop:.0f} PFLOP; scoring {PAPER_VOLUMES:,d} volume-scorings (5 folds) = {score_pflop:.1f} PFLOP"
            )
            for tflops in args.gpu_tflops:
                one = train_pflop * 1e3 / tflops / 3600
                print(
                    f"  at a sustained {tflops:5.0f} TFLOP/s: {one:5.2f} GPU-h per (modality, fold), "
                    f"{10 * one:5.1f} GPU-h for 2 modalities x 5 folds; scoring {score_pflop * 1e3 / tflops / 3600:5.2f} GPU-h"
                )
            if device.type == "cpu":
                print(
                    f"  on this CPU: {PAPER_STEPS / row['steps_per_s'] / 86400:.0f} days per training "
                    f"({1 / row['steps_per_s']:.1f} s/step)"
                )


if __name__ == "__main__":
    main()
