"""The authors' dense-heatmap inference, re-implemented (every voxel a centre, six slices per chunk,
explicit index tensors, fp16 autocast on a GPU), and the synthetic brain-shaped case the heatmap
benchmarks time it on: bench_heatmap.py (the CPU) and gpu/patch2loc_part.py (the paper's scale)."""

from __future__ import annotations

import numpy as np
import torch

from patch2loc.methods.patch2loc.model import Patch2LocNet


@torch.inference_mode()
def authors_scores(
    model: Patch2LocNet,
    volume: np.ndarray,
    mask: np.ndarray,
    slices: np.ndarray,
    device: torch.device,
    forward_batch: int | None,
) -> np.ndarray:
    """Scores [X, Y, len(slices)] for every voxel of the given slices, six slices per chunk."""
    X, Y, Z = volume.shape
    P = model.patch_size
    model = model.to(device).eval()
    amp = device.type == "cuda"
    img = torch.from_numpy(volume * mask).to(device).permute(2, 0, 1)  # [Z, X, Y]
    padded = torch.nn.functional.pad(img, (P // 2, P - 1 - P // 2, P // 2, P - 1 - P // 2))
    # explicit index tensors: row/col of every pixel of every patch of a slice, [X*Y, P, P]
    r = torch.arange(X, device=device).repeat_interleave(Y)
    c = torch.arange(Y, device=device).repeat(X)
    offs = torch.arange(P, device=device)
    rows = (r[:, None, None] + offs[None, :, None]).expand(-1, P, P)
    cols = (c[:, None, None] + offs[None, None, :]).expand(-1, P, P)
    target = torch.stack([100.0 * r / X, 100.0 * c / Y], 1).float()
    out = np.zeros((X, Y, len(slices)), np.float32)
    for k in range(0, len(slices), 6):
        chunk = torch.as_tensor(slices[k : k + 6], device=device)
        patches = padded[chunk][:, rows, cols].reshape(-1, 1, P, P)  # [6*X*Y, 1, P, P]
        pos = (100.0 * chunk.float() / Z).repeat_interleave(X * Y)
        tgt = target.repeat(len(chunk), 1)
        step = forward_batch or patches.shape[0]
        scores = []
        for s in range(0, patches.shape[0], step):
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                mean, logvar = model(patches[s : s + step], pos[s : s + step])
            err = ((tgt[s : s + step] - mean.float()) ** 2).sum(1)
            scores.append(torch.log(err + 1e-10) + 0.5 * logvar.float().sum(1))
        out[:, :, k : k + len(chunk)] = torch.cat(scores).reshape(len(chunk), X, Y).permute(1, 2, 0).cpu().numpy()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out


def synthetic_case(shape, seed: int = 0, lesion: bool = False):
    """Brain-shaped ellipsoid mask, smooth texture inside; optional bright spherical lesion."""
    from scipy import ndimage

    X, Y, Z = shape
    x, y, z = np.meshgrid(np.linspace(-1, 1, X), np.linspace(-1, 1, Y), np.linspace(-1, 1, Z), indexing="ij")
    mask = (x / 0.8) ** 2 + (y / 0.92) ** 2 + ((z + 0.1) / 0.85) ** 2 < 1
    rng = np.random.default_rng(seed)
    tex = ndimage.gaussian_filter(rng.normal(size=shape), 2.0)
    image = (0.6 + 0.3 * tex / tex.std()) * mask
    seg = None
    if lesion:
        seg = ((x - 0.3) ** 2 + (y + 0.2) ** 2 + (z - 0.1) ** 2 < 0.15**2) & mask
        image[seg] += 0.8
    return image.astype(np.float32), mask, seg
