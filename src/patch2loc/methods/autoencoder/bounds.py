"""The AE's and the VAE's settings within bounds: the one table of them (ranges.py's format).

`RANGES` bounds the settings that build and score the network, in the workflow's `ae:` and `vae:`
blocks and in every checkpoint's config (score.py); the VAE adds its KL weight. train.check_architecture
adds the combinations (size = bottleneck x 2^k, dropout below 1, the weights). `RULES`: what the
workflow holds both blocks to at start-up (patch2loc.training.blockbounds; an `ae:` block with a
kl_weight is refused by the schema); config/schema.yaml names these keys without bounds of its own.
"""

from __future__ import annotations

MAX_SIZE = 1024  # model grid side (ranges.GRID_SIDE's bound on a slice side)
RANGES = {
    "size": (int, 2, MAX_SIZE, None),  # the reference: 128
    "width": (int, 2, 1024, None),  # 32
    "bottleneck": (int, 1, MAX_SIZE // 2, None),  # 8
    "latent": (int, 1, 65536, None),  # 128
    "seed": (int, 0, 2**63 - 1, None),  # what torch's generators take
}
VAE_RANGES = {**RANGES, "kl_weight": (float, 0.0, 1e6, None)}  # the reference: 1
RULES = VAE_RANGES
