"""Training patch sampler: one random axial slice per subject, then valid patches from those slices.

Everything lives on the training device and one call to `PatchSampler.sample` is a handful of
tensor operations (no Python loop over patches, no copy to or from the host), so sampling costs
next to nothing beside the network step.

The paper draws patch centres uniformly over the selected slices and rejects patches with less
than `min_brain_fraction` brain pixels. Drawing uniformly over the *valid* centres only gives the
same distribution (a uniform draw conditioned on acceptance is uniform over the accepted set)
without wasted work, and always yields exactly `n` patches. The valid-centre map of every slice is
computed once, when the sampler is built.

Slice choice: for each subject the slice is drawn uniformly among the slices that have at least
one valid centre. An empty slice contributes no patch under the paper's rejection scheme either;
skipping it only means every subject contributes a slice to every step.

Several co-registered contrasts (docs/multimodal.md): images [S, C, X, Y, Z], one brain mask per
subject [S, X, Y, Z]; a patch is then [C, P, P], the same window of every contrast. One array
with a channel axis, not a tuple of volumes: the contrasts share one grid by construction, the
gather indexes one more axis, and [S, X, Y, Z] (today's input) is the C = 1 case, drawn exactly
as before.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from patch2loc.errors import InputError


def _subject(x: np.ndarray | torch.Tensor, s: int) -> torch.Tensor:
    """Subject s as a tensor; numpy input is copied one subject at a time (read-only or
    broadcast arrays are fine, and the whole stack is never duplicated)."""
    return x[s] if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x[s]))


def split_channels(images: np.ndarray | torch.Tensor, masks, where: str) -> int:
    """The channel count of images [S, X, Y, Z] (1) or [S, C, X, Y, Z] (C) with masks
    [S, X, Y, Z]; one line when the shapes do not fit."""
    grid = tuple(images.shape[:1]) + tuple(images.shape[-3:])
    if images.ndim not in (4, 5) or grid != tuple(masks.shape) or masks.ndim != 4:
        raise InputError(
            f"{where}: images {tuple(images.shape)} and masks {tuple(masks.shape)} must be [subjects, X, Y, Z] "
            "with the same shape (or images [subjects, contrasts, X, Y, Z]). Stack volumes of one common shape."
        )
    return 1 if images.ndim == 4 else int(images.shape[1])


def brain_counts(mask_slices: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Brain pixels inside the zero-padded P x P window centred at every pixel.

    mask_slices: [B, H, W] (bool or 0/1) -> [B, H, W] float32 holding exact integer counts.
    A window centred at (r, c) spans rows r - P//2 .. r - P//2 + P - 1 (docs/architecture.md).
    """
    p = patch_size
    lo, hi = p // 2, p - 1 - p // 2
    m = F.pad(mask_slices.float().unsqueeze(1), (lo, hi, lo, hi))
    ones = torch.ones(1, 1, p, p, dtype=m.dtype, device=m.device)
    return F.conv2d(m, ones).squeeze(1)


class PatchSampler:
    """Draws training patches, their target positions and slice positions, on one device.

    Built once from images [S, X, Y, Z] or [S, C, X, Y, Z] and brain masks [S, X, Y, Z] (numpy or
    torch; they are moved to `device` one subject at a time). Images are multiplied by the masks.
    Memory on the device: the zero-padded images (float32, C per voxel) plus one bool valid-centre
    map per slice.
    """

    def __init__(
        self,
        images: np.ndarray | torch.Tensor,
        masks: np.ndarray | torch.Tensor,
        patch_size: int,
        min_brain_fraction: float = 0.2,
        device: str | torch.device | None = None,
    ):
        self.channels = c = split_channels(images, masks, "PatchSampler")
        if device is None:
            device = images.device if isinstance(images, torch.Tensor) else "cpu"
        self.device = torch.device(device)
        n_subj, (h, w, d) = images.shape[0], images.shape[-3:]
        p = int(patch_size)
        if not 1 <= p <= min(h, w):
            raise InputError(f"PatchSampler: patch_size {p} must be between 1 and the slice side {min(h, w)}.")
        self.patch_size, self.shape = p, (h, w, d)
        self.n_subjects = n_subj
        # Minimum number of brain pixels, as an integer so the test is exact.
        self.min_count = max(0, math.ceil(min_brain_fraction * p * p - 1e-9))

        lo = p // 2  # left/top padding; the right/bottom gets p - 1 - lo
        # Slices stored [S, Z, C, H + P - 1, W + P - 1]: one slice is contiguous and already padded.
        self.padded = torch.zeros(n_subj, d, c, h + p - 1, w + p - 1, dtype=torch.float32, device=self.device)
        self.valid = torch.zeros(n_subj, d, h, w, dtype=torch.bool, device=self.device)
        for s in range(n_subj):
            msk = _subject(masks, s).to(self.device).bool().permute(2, 0, 1)  # [Z, H, W]
            img = _subject(images, s).to(self.device, torch.float32).reshape(c, h, w, d).permute(3, 0, 1, 2)
            self.padded[s, :, :, lo : lo + h, lo : lo + w] = img * msk[:, None]
            # Counts are integers; the 0.5 margin absorbs rounding of fast (e.g. FFT) convolutions.
            self.valid[s] = brain_counts(msk, p) > self.min_count - 0.5
        # Valid centres per (subject, slice); a slice is eligible when it has any.
        self.counts = self.valid.flatten(2).sum(-1)  # [S, Z]
        empty = (self.counts == 0).all(dim=1).nonzero().flatten().tolist()
        if empty:
            raise InputError(
                f"PatchSampler: subject(s) {empty} have no patch centre with >= {min_brain_fraction:.0%} "
                "brain in any slice. Check their brain masks (empty or misregistered) or drop them."
            )
        self._eligible = (self.counts > 0).float()
        self._offsets = torch.arange(p, device=self.device)
        self._channel = torch.arange(c, device=self.device)

    def sample(self, n_patches: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw `n_patches` valid patches -> (patches [N,C,P,P], target [N,2] %, slice_pos [N] %).

        `generator` must live on the sampler's device; the same generator state gives the same draw.
        """
        h, w, d = self.shape
        # One slice per subject, uniform over its eligible slices.
        z = torch.multinomial(self._eligible, 1, generator=generator).squeeze(1)  # [S]
        valid = self.valid[torch.arange(self.n_subjects, device=self.device), z].flatten()  # [S*H*W]
        # Uniform over all valid centres of the chosen slices: the k-th valid one, k uniform.
        cum = torch.cumsum(valid, 0)
        u = torch.rand(n_patches, generator=generator, device=self.device, dtype=torch.float64)
        k = (u * cum[-1]).long().clamp_(max=cum[-1] - 1)
        flat = torch.searchsorted(cum, k, right=True)
        subj, pix = flat // (h * w), flat % (h * w)
        row, col = pix // w, pix % w
        zs = z[subj]
        # The padded slice starts P//2 earlier, so the window of centre r starts at padded row r.
        # Adjacent index tensors broadcast to [N, C, P, P]: one gather, already contiguous.
        o, ch = self._offsets, self._channel[None, :, None, None]
        patches = self.padded[
            subj[:, None, None, None],
            zs[:, None, None, None],
            ch,
            row[:, None, None, None] + o[None, None, :, None],
            col[:, None, None, None] + o[None, None, None, :],
        ]
        target = torch.stack([row.float() * 100.0 / h, col.float() * 100.0 / w], dim=1)
        slice_pos = zs.float() * 100.0 / d
        return patches, target, slice_pos
