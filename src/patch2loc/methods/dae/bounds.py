"""The DAE's settings within bounds: the one table of them (ranges.py's format).

`RANGES` bounds the settings that build the network, in the workflow's `dae:` block and in every
checkpoint's config (score.load_model); `NOISE` training's coarse noise: a node distance of 1e-6 mm
asked for a grid of 10^8 x 10^8 nodes per slice, and at most one node per pixel is drawn (train.py),
so 0.2 mm, the chain's finest voxel. `RULES`: what the workflow holds its `dae:` block to at start-up
(patch2loc.training.blockbounds); config/schema.yaml names these keys without bounds of its own.
"""

from __future__ import annotations

RANGES = {"width": (int, 1, 1024, None), "depth": (int, 2, 6, None)}  # the reference: 64, 4
NOISE = {"noise_cell_mm": (float, 0.2, 1000.0, None), "noise_std": (float, 1e-6, 100.0, None)}
RULES = {**RANGES, **NOISE}
