"""What every part of the GPU benchmark shares: the sizes (the paper's, or tiny ones for a CPU test),
synthetic brains, step timing and peak memory."""

from __future__ import annotations

import copy
import functools
import gc
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[2]
PAPER_CONFIG = REPO / "config" / "config.yaml"


@dataclass(frozen=True)
class Sizes:
    """How large the benchmark's inputs are: the paper's (config/config.yaml) or tiny (a CPU check)."""

    grid: tuple[int, int, int]  # the preprocessed volume (X, Y, Z)
    subjects: int  # training subjects held by Patch2Loc's sampler (the paper: 358 IXI subjects)
    patches: int  # Patch2Loc's patches per step
    warmup: int  # untimed steps before a rate is timed (cuDNN's autotuning, allocator)
    steps: int  # timed steps per rate
    heatmap_slices: int | None  # axial slices scored by the authors' scheme (None: all; a CPU times a few)
    streamed: int  # volumes a method's scoring streams as a job's device stage runs them
    tiny: bool

    @classmethod
    def paper(cls) -> "Sizes":
        cfg = paper_config()
        grid = tuple(cfg["preprocess"]["target_shape"])
        return cls(grid, 358, cfg["patch2loc"]["patches_per_step"], 3, 15, None, 6, False)

    @classmethod
    def small(cls) -> "Sizes":
        return cls((32, 32, 8), 3, 64, 0, 1, 2, 2, True)  # one step a rate, no warm-up: a check of the paths


def paper_config() -> dict:
    """The paper config as its run sees it: each method block with its code defaults stated (a copy
    the caller may change)."""
    return copy.deepcopy(_paper_config())


@functools.lru_cache(maxsize=1)  # read once: the parts ask for it per method and measure (seconds of YAML each)
def _paper_config() -> dict:
    from patch2loc.run.blocks import filled

    return filled(yaml.safe_load(PAPER_CONFIG.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=1)  # one set of paper-sized volumes (5 GB) serves every method
def brains(n: int, grid: tuple[int, int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` brain-shaped ellipsoids of random intensities (the shape matters for speed, not the content)."""
    rng = np.random.default_rng(seed)
    axes = [np.linspace(-1, 1, s, dtype=np.float32) for s in grid]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    mask = (x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.95) ** 2 <= 1
    images = rng.random((n, *grid), dtype=np.float32)
    return images, np.ascontiguousarray(np.broadcast_to(mask, images.shape))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        sync(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    """The most GPU memory allocated since `reset_peak` (None on a CPU: no device memory)."""
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 3)


def host_rss_gib() -> float:
    """This process's resident memory now (the rules' mem_mb is host memory)."""
    with open("/proc/self/statm", encoding="utf-8") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


def steps_per_second(step, sizes: Sizes, device: torch.device) -> float:
    """`step(i)` run `sizes.warmup` times, then timed over `sizes.steps` calls (the device synced
    around the timed block, as the loss is read once at its end)."""
    for i in range(sizes.warmup):
        step(i)
    sync(device)
    t0 = time.perf_counter()
    for i in range(sizes.steps):
        loss = step(i)
    float(loss)
    sync(device)
    return sizes.steps / (time.perf_counter() - t0)


def rates_per_variant(method: str, variants, make_task, steps: int, sizes: Sizes, device: torch.device) -> dict:
    """{variant: steps/s, the paper's `steps` in hours, peak GPU memory} of `make_task(variant)`'s
    train_step, one task at a time (each freed before the next is built)."""
    rows = {}
    for variant in variants:
        reset_peak(device)
        task = make_task(variant)
        rate = steps_per_second(task.train_step, sizes, device)
        rows[variant] = {"steps_per_s": rate, "paper_steps_h": steps / rate / 3600, "peak_gib": peak_gib(device)}
        print(
            f"{method:15s} training {variant:8s}: {rate:7.2f} steps/s, {steps:,d} steps in "
            f"{steps / rate / 3600:5.2f} h, peak {peak_gib(device)} GiB",
            flush=True,
        )
        del task
        gc.collect()
        gc.freeze()  # what survived stays: the next collection walks only the next task's objects
    return rows


def seconds(fn, device: torch.device):
    """(fn(), seconds it took with the device synced)."""
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0


def guarded(name: str, fn, record: dict, deadline: float):
    """fn() into record[name]; a failure is recorded (its last line) and the benchmark goes on; past
    `deadline` (time.monotonic) the part is skipped and says so."""
    if time.monotonic() > deadline:
        record[name] = {"skipped": "the benchmark's time budget was spent"}
        print(f"{name}: skipped (time budget spent)", flush=True)
        return None
    t0 = time.monotonic()
    try:
        record[name] = fn()
    except Exception as exc:  # noqa: BLE001  (one failed measure must not lose the others)
        traceback.print_exc()
        record[name] = {"error": f"{type(exc).__name__}: {exc}"}
    record[name]["measure_s"] = time.monotonic() - t0  # what the measure cost (the benchmark's own budget)
    return record[name]
