"""The memory a training will take, estimated from its settings and data before its first step
(before the method's task copies slices to the device or builds its network), and refused in one
line when it cannot fit: the estimate, the limit and the settings to lower.

    data         the training and validation arrays (already read) and the copy the task makes on the
                 device: the volumes (Patch2Loc), or every slice at the model's side with its mask
    network      its parameters and buffers, counted on torch's meta device (nothing allocated), times 4:
                 weights, gradients and Adam's two moments (the optimiser state)
    activations  TRAIN x the batch x one sample's forward activations: the per-pixel bytes the
                 methods' scoring budgets use (predict/budget.py, each score.py), TRAIN = 3 for what
                 the backward pass holds (the saved activations, their gradients, the update's copies)

The limit is the smaller of the memory available (MemAvailable, plus the arrays already read) and
the job's `mem_mb` (PATCH2LOC_TRAIN_MEM_MB: the workflow's training rules set it from their
resources); on a GPU the device's part is also held to the GPU's free memory. What differs between
methods is each one's `training_footprint` (a `Footprint`), found through the registry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import chain

from patch2loc.checks.limits import MB
from patch2loc.errors import InputError

TRAIN = 3
JOB_ENV = "PATCH2LOC_TRAIN_MEM_MB"


@dataclass(frozen=True)
class Footprint:
    """What a method's training holds beside its data, from the method's `training_footprint(cfg,
    config, grid, channels)`: every trained method's registry module has one."""

    sample: int  # bytes one training sample's forward pass holds (its activations)
    batch: int  # samples per step
    network: int = 0  # its network's parameters and buffers (`network_bytes`)
    side: int | None = None  # the task copies every slice, at this side, to the device (None: the volumes)


def slice_side(size: int | None, grid) -> int:
    """The side of the square slices a slice network trains on: its `size`, or the grid's larger side."""
    return int(size or max(grid[0], grid[1]))


def network_bytes(build, config: dict) -> int:
    """The parameters and buffers of `build(config)`, built on torch's meta device (nothing allocated)."""
    import torch

    with torch.device("meta"):
        net = build(config)
    return sum(t.numel() * t.element_size() for t in chain(net.parameters(), net.buffers()))


def estimate(method: str, cfg, data, config: dict) -> dict[str, int]:
    """{data, device_data, network, activations, total} in bytes of training `method` with settings
    `cfg` on `data` (training.training_data.TrainingData); `config`: what its checkpoints record."""
    from patch2loc.registry import implementation

    images = data.train_images
    grid = images.shape[-3:]
    channels = images.shape[1] if images.ndim == 5 else 1
    foot = implementation(method).training_footprint(cfg, config, grid, channels)
    held = sum(a.nbytes for a in (data.train_images, data.train_masks, data.val_images, data.val_masks))
    volumes = images.shape[0] + data.val_images.shape[0]
    if foot.side is None:
        device_data = held
    else:  # each slice and its mask, float32
        device_data = volumes * grid[2] * foot.side * foot.side * (4 * channels + 4)
    network = 4 * foot.network
    activations = TRAIN * foot.batch * foot.sample
    parts = {"data": held, "device_data": device_data, "network": network, "activations": activations}
    return {**parts, "total": sum(parts.values())}


def _available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def limit(held: int) -> tuple[int, str] | None:
    """(the bytes a training may take, what they are), or None when nothing is known."""
    limits = []
    available = _available()
    if available is not None:
        limits.append((available + held, "the memory available"))
    job = os.environ.get(JOB_ENV, "").strip()
    if job:
        try:
            limits.append((int(float(job)) * MB, f"the job's mem_mb ({JOB_ENV})"))
        except ValueError:
            raise InputError(f"{JOB_ENV}={job!r}: must be a number of MB (the job's mem_mb).") from None
    return min(limits) if limits else None


def check_training_memory(method: str, cfg, data, config: dict, device, keys: str) -> dict[str, int]:
    """One line when the training cannot fit; the estimate otherwise. `keys`: the settings to lower."""
    need = estimate(method, cfg, data, config)
    parts = (
        f"data {(need['data'] + need['device_data']) / MB:,.0f} MB, network with its gradients and optimiser state "
        f"{need['network'] / MB:,.0f} MB, activations at the batch {need['activations'] / MB:,.0f} MB"
    )
    on_device = need["device_data"] + need["network"] + need["activations"]
    checks = []
    if device.type == "cuda":
        import torch

        checks.append((need["data"], limit(need["data"])))
        checks.append((on_device, (torch.cuda.mem_get_info(device)[0], f"the free memory of {device}")))
    else:
        checks.append((need["total"], limit(need["data"])))
    for amount, bound in checks:
        if bound is not None and amount > bound[0]:
            raise InputError(
                f"{method} settings: training needs about {amount / MB:,.0f} MB ({parts}), more than "
                f"{bound[1]}, {bound[0] / MB:,.0f} MB; nothing was trained. Lower {keys}."
            )
    return need


def method_of(cfg) -> str | None:
    """The registry's method whose settings `cfg` is (None: a pre-training's own settings)."""
    from patch2loc.registry import METHODS, implementation

    for name, entry in METHODS.items():
        if entry.trains and implementation(name).Settings is type(cfg):
            return name
    return None


def check_before_training(cfg, data, config: dict, device) -> None:
    """The harness's check before a method's task is built (train_seeded)."""
    method = method_of(cfg)
    if method is None:
        return
    keys = [k for k in ("batch_size", "patches_per_step", "size", "width", "patch_size") if hasattr(cfg, k)]
    check_training_memory(method, cfg, data, config, device, ", ".join(keys))
