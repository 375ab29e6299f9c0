"""PHANES' settings within bounds: the one table of them (ranges.py's format).

`RANGES` bounds the settings that build and score the networks, in the workflow's `phanes:` block
and in every checkpoint's config (score.py); train.check_phanes_architecture adds the combinations
(size a multiple of 32 for RA's five poolings and at least 64 for the inpainter's dilation 8, RA's
weight count). `RULES`: what the workflow holds the block to at start-up
(patch2loc.training.blockbounds); config/schema.yaml names these keys without bounds of its own.
"""

from __future__ import annotations

MAX_SIZE = 1024  # model grid side (ranges.GRID_SIDE's bound on a slice side)
RANGES = {
    "size": (int, 64, MAX_SIZE, None),  # the reference: 128 (RA: a multiple of 32; the inpainter: >= 36)
    "width": (int, 1, 256, None),  # RA's channels width x (1, 2, 4, 8, 8); 64 in the paper
    "zdim": (int, 1, 4096, None),  # 128
    "seed": (int, 0, 2**63 - 1, None),  # what torch's generators take
}
RULES = RANGES
