"""The settings a CPU-only site (config `device.torch_build: cpu`) lowers: what is sized for a GPU's
memory moves into the job's host memory there.

- Patch2Loc's scoring batch (`heatmap.batch_size`) is a throughput knob: the same maps at any
  batch. On the CPU its forward pass in fp32 (`heatmap.amp: auto` is fp32 on a CPU without bf16)
  holds about 213 bytes per patch pixel: 122,751 bytes per 24 x 24 patch at a batch of 4,096 and
  103,805 at 16,384 (the whole `score_volume`, peak resident memory; AMD EPYC, 1 thread,
  2026-11-27). The batch is lowered to the largest power of two whose patches take at most half
  the scoring job's `mem_mb`, leaving the other half to the volumes in flight, the maps and the
  libraries. A CPU gains nothing from larger batches.
- A training's device memory (the registry's measured GPU peak) is added to its job's `mem_mb`:
  the same activations and optimiser state then live in host memory. Its batch, which is part of
  the method, stays.
"""

from __future__ import annotations

import math

CPU_FP32_BYTES_PER_PATCH_PIXEL = 213
SCORING_SHARE = 0.5  # of the scoring job's mem_mb, for the batch's patches
MB = 1_000_000  # Snakemake's mem_mb


def scoring_batch_bytes(batch_size: int, patch: int) -> int:
    """Host bytes Patch2Loc's CPU forward pass holds for `batch_size` patches of `patch` x `patch`."""
    return int(batch_size) * int(patch) ** 2 * CPU_FP32_BYTES_PER_PATCH_PIXEL


def cpu_scoring_batch(batch_size: int, patch: int, mem_mb: int) -> int:
    """The configured batch, or the largest power of two below it whose patches fit the share."""
    limit = SCORING_SHARE * mem_mb * MB
    if scoring_batch_bytes(batch_size, patch) <= limit:
        return int(batch_size)
    fitting = max(1, int(limit // scoring_batch_bytes(1, patch)))
    return 2 ** int(math.log2(fitting))


def cpu_heatmap(heatmap: dict, patch: int, mem_mb: int) -> dict:
    """The `heatmap` block a CPU-only site's scoring jobs get."""
    return {**heatmap, "batch_size": cpu_scoring_batch(heatmap["batch_size"], patch, mem_mb)}


def cpu_train_mem_mb(mem_mb: int, gpu_gib: float) -> int:
    """A training job's host memory on a CPU-only site: its own plus the device peak."""
    return int(mem_mb) + math.ceil(gpu_gib * 2**30 / MB)
