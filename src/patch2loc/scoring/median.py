"""The median filter of the scoring core, on the CPU (SciPy) or on the scoring device (torch).

SciPy's `ndimage.median_filter` on one CPU thread takes longer than most methods' networks on a
GPU, so a scoring job on a GPU filters there. Both paths give the same float32 values on every
voxel: the window is SciPy's (for a side s, s // 2 voxels before the centre and s - 1 - s // 2
after it), the border is SciPy's default `reflect` mode (numpy's `symmetric`: the edge voxel is
repeated, then the volume mirrored), and the median is one of the window's values (SciPy's rank
n // 2 from the smallest, also for an even window), which both pick exactly. The torch path runs on
any device, so the CPU tests check the code a GPU runs.

The core multiplies the filtered map by the brain mask, so the torch path computes the median at
the mask's voxels only (a third of a cropped brain volume's) and writes 0 elsewhere.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np
from scipy import ndimage

# Voxels whose windows are gathered at once: bounds the device memory at about this x window x 4 bytes.
CHUNK_VOXELS = 1 << 20
# Exact ways to take a window's rank-th value, compared by the GPU benchmark; the first is used.
REDUCTIONS = ("kthvalue", "median", "sort")


def on_device(device, score: np.ndarray) -> bool:
    """Whether the torch path filters `score`: a GPU to filter on, and finite values (SciPy's order
    of NaNs is its own, so a map with a non-finite value keeps the CPU path and its exact result).
    `device` is a torch.device or None."""
    return device is not None and device.type == "cuda" and bool(np.isfinite(score).all())


def scipy_median(score: np.ndarray, window: tuple[int, ...]) -> np.ndarray:
    """The exact CPU path: SciPy's median filter (mode reflect) of a float32 map."""
    return ndimage.median_filter(np.asarray(score, dtype=np.float32), size=window)


def _torch():
    """torch, loaded already: the device path is reached only with a torch.device in hand. So this
    module, which every scoring and table job imports, asks nothing of an env without torch."""
    return sys.modules["torch"]


def filter_device(name):
    """The device a scan's median filter runs on: the GPU its scoring named (`cuda`, `cuda:N`, or `auto`
    or None where one is usable), else None (SciPy). Called after the method scored, which checked
    the name; torch is not loaded where no method ran on a device."""
    torch = sys.modules.get("torch")
    name = "auto" if name is None else str(name)
    if torch is None or name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return None
    return torch.device("cuda" if name == "auto" else name)


def side_stream(device):
    """A context in which the filter's GPU work goes to a stream of its own (a scoring job's next
    volume keeps the default one busy meanwhile); a null context off a GPU."""
    torch = sys.modules.get("torch")
    if device is None or torch is None or torch.device(device).type != "cuda":
        return contextlib.nullcontext()
    return torch.cuda.stream(torch.cuda.Stream(device))


def reflect_index(n: int, before: int, after: int, device):
    """Indices (a torch tensor on `device`) of an axis of length n padded by `before` and `after`
    voxels in SciPy's `reflect` mode (period 2n: 0..n-1, then n-1..0), also where a pad is longer
    than the axis."""
    torch = _torch()
    j = torch.arange(-before, n + after, device=device) % (2 * n)
    return torch.where(j >= n, 2 * n - 1 - j, j)


def _ranked(windows, rank: int, how: str):
    """The rank-th smallest value (1-based) of each row: `median` is torch's lower median, the
    same value for an odd row length only."""
    if how == "kthvalue":
        return windows.kthvalue(rank, dim=1).values
    if how == "median" and windows.shape[1] % 2 == 1:
        return windows.median(dim=1).values
    if how == "sort":
        return windows.sort(dim=1).values[:, rank - 1]
    raise ValueError(f"median reduction {how!r}: one of {REDUCTIONS} (median: odd windows only)")


def masked_median(
    score: np.ndarray, mask: np.ndarray, window: tuple[int, ...], device, how: str = REDUCTIONS[0]
) -> np.ndarray:
    """float32 map: SciPy's median filter of `score` with `window` at the voxels of `mask`, 0
    elsewhere, computed with torch on `device` (a torch.device) by the reduction `how`."""
    torch = _torch()
    score = np.asarray(score, dtype=np.float32)
    if len(window) != score.ndim:
        raise ValueError(f"median window {window} does not match a map of {score.ndim} axes")
    volume = torch.from_numpy(np.ascontiguousarray(score)).to(device)
    for axis, (n, side) in enumerate(zip(score.shape, window)):
        volume = volume.index_select(axis, reflect_index(n, side // 2, side - 1 - side // 2, device))
    padded = volume.contiguous()
    strides = torch.tensor(padded.stride(), device=device)
    # the window's voxels as offsets into the flat padded volume, and each masked voxel's window start
    grids = torch.meshgrid(*[torch.arange(side, device=device) for side in window], indexing="ij")
    offsets = sum(g.reshape(-1) * s for g, s in zip(grids, strides))
    where = torch.from_numpy(np.flatnonzero(np.asarray(mask) > 0)).to(device)
    coords = torch.stack(torch.unravel_index(where, score.shape), dim=1)
    starts = (coords * strides).sum(dim=1)
    flat = padded.reshape(-1)
    rank = offsets.numel() // 2 + 1  # SciPy's median: the (n // 2)-th value from 0, the upper one of an even window
    values = torch.empty(where.numel(), dtype=torch.float32, device=device)
    for s in range(0, where.numel(), CHUNK_VOXELS):
        windows = flat[starts[s : s + CHUNK_VOXELS, None] + offsets[None, :]]
        values[s : s + CHUNK_VOXELS] = _ranked(windows, rank, how)
    out = torch.zeros(score.size, dtype=torch.float32, device=device)
    out[where] = values
    return out.reshape(score.shape).cpu().numpy()
