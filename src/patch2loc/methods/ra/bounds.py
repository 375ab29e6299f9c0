"""RA's settings within bounds: the one table of them (ranges.py's format).

`RANGES` bounds the settings that build and score the network, in the workflow's `ra:` block and in
every checkpoint's config (score.py); train.check_architecture adds the combination (size a multiple
of 32: five average pools) and the weight count. `RULES`: what the workflow holds the block to at
start-up (patch2loc.training.blockbounds); config/schema.yaml names these keys without bounds of its own.
"""

from __future__ import annotations

MAX_SIZE = 1024  # model grid side (ranges.GRID_SIDE's bound on a slice side)
RANGES = {
    "size": (int, 32, MAX_SIZE, None),  # the reference: 128
    "width": (int, 1, 256, None),  # 64: channels 64, 128, 256, 512, 512
    "zdim": (int, 1, 4096, None),  # 128
    "seed": (int, 0, 2**63 - 1, None),  # what torch's generators take
}
RULES = RANGES
