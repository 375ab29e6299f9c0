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
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from patch2loc.io import InputError


def _subject(x: np.ndarray | torch.Tensor, s: int) -> torch.Tensor:
    """Subject s as a tensor; numpy input is copied one subject at a time (read-only or
    broadcast arrays are fine, and the whole stack is never duplicated)."""
    return x[s] if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x[s]))


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

    Built once from images [S, X, Y, Z] and brain masks of the same shape (numpy or torch; they
    are moved to `device` one subject at a time). Images are multiplied by the masks. Memory on
    the device: the zero-padded images (float32) plus one bool valid-centre map per slice.
    """

    def __init__(
        self,
        images: np.ndarray | torch.Tensor,
        masks: np.ndarray | torch.Tensor,
        patch_size: int,
        min_brain_fraction: float = 0.2,
        device: str | torch.device | None = None,
    ):
        if images.ndim != 4 or tuple(images.shape) != tuple(masks.shape):
            raise InputError(
                f"PatchSampler: images {tuple(images.shape)} and masks {tuple(masks.shape)} must both be "
                "[subjects, X, Y, Z] with the same shape. Stack volumes of one common shape."
            )
        if device is None:
            device = images.device if isinstance(images, torch.Tensor) else "cpu"
        self.device = torch.device(device)
        n_subj, h, w, d = images.shape
        p = int(patch_size)
        if not 1 <= p <= min(h, w):
            raise InputError(f"PatchSampler: patch_size {p} must be between 1 and the slice side {min(h, w)}.")
        self.patch_size, self.shape = p, (h, w, d)
        self.n_subjects = n_subj
        # Minimum number of brain pixels, as an integer so the test is exact.
        self.min_count = max(0, math.ceil(min_brain_fraction * p * p - 1e-9))

        lo = p // 2  # left/top padding; the right/bottom gets p - 1 - lo
        # Slices stored [S, Z, H + P - 1, W + P - 1]: one slice is contiguous and already padded.
        self.padded = torch.zeros(n_subj, d, h + p - 1, w + p - 1, dtype=torch.float32, device=self.device)
        self.valid = torch.zeros(n_subj, d, h, w, dtype=torch.bool, device=self.device)
        for s in range(n_subj):
            msk = _subject(masks, s).to(self.device).bool().permute(2, 0, 1)  # [Z, H, W]
            img = _subject(images, s).to(self.device, torch.float32).permute(2, 0, 1) * msk
            self.padded[s, :, lo : lo + h, lo : lo + w] = img
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

    def sample(self, n_patches: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw `n_patches` valid patches -> (patches [N,1,P,P], target [N,2] %, slice_pos [N] %).

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
        o = self._offsets
        patches = self.padded[
            subj[:, None, None],
            zs[:, None, None],
            row[:, None, None] + o[None, :, None],
            col[:, None, None] + o[None, None, :],
        ]
        target = torch.stack([row.float() * 100.0 / h, col.float() * 100.0 / w], dim=1)
        slice_pos = zs.float() * 100.0 / d
        return patches.unsqueeze(1), target, slice_pos
