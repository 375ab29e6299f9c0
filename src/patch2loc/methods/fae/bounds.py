"""FAE's settings within bounds: the one table of them (ranges.py's format).

`RANGES` bounds the settings that build and score the network, in the workflow's `fae:` block and
in every checkpoint's config (score.py); train.check_architecture adds the combinations (`size` a
multiple of 4 x 2^len(hidden_dims), dropout below 1, at most MAX_PARAMETERS weights). `RULES`: what
the workflow holds the block to at start-up (patch2loc.training.blockbounds); config/schema.yaml
names these keys without bounds of its own.
"""

from __future__ import annotations

MAX_SIZE = 1024  # model grid side (ranges.GRID_SIDE's bound on a slice side)
RANGES = {
    "size": (int, 8, MAX_SIZE, None),  # the reference: 128 (features on a size/4 grid; train.py: the multiple)
    "hidden_dims": (int, 1, 1024, (1, 6)),  # [100, 150, 200, 300]
    "dropout": (float, 0.0, 0.99, None),  # 0.1
    "seed": (int, 0, 2**63 - 1, None),  # what torch's generators take
}
RULES = RANGES
