"""The patch side Patch2Loc uses when none is set: a fixed fraction of the slice's side (paper: 24 of
192). Torch-free: the scoring of a method without a network reads it too (its patch statistics)."""

from __future__ import annotations

PATCH_FRACTION = 0.125  # patch side as a fraction of the slice side (24 of 192)


def patch_size_for(slice_size: int, fraction: float = PATCH_FRACTION) -> int:
    """Patch side in pixels for an axial slice of side `slice_size` (192 -> 24)."""
    return max(1, int(round(fraction * slice_size)))
