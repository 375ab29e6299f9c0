"""Dense anomaly heatmaps: run Patch2Loc with every voxel (or a strided grid) as a patch centre.

Conventions (docs/architecture.md): a volume is `[X, Y, Z]`, an axial slice `vol[:, :, z]` has
shape `(H, W) = (X, Y)`; the patch centred at `(r, c)` covers rows `r - P//2 ... r - P//2 + P - 1`
(zero padding outside the slice); targets are `Y = 100 * (r / H, c / W)`, slice position
`A = 100 * z / D`. The image is multiplied by the brain mask before scoring.

How the fast path works:
- the masked volume (C contrasts, 1 by default: docs/multimodal.md) is zero padded once and kept
  on the device as `[Z, C, H+P-1, W+P-1]`; an `unfold` view of it is `[Z, C, H, W, P, P]` without
  copying anything, so a batch of patches is one
  gather of exactly the needed centres (no per-pixel index tensors);
- only the centres of the evaluated region are run (by default the brain mask dilated by
  `margin`, which is all the 7^3 median filter of the core's `postprocess` ever reads for in-brain voxels);
- the encoder runs in bf16/fp16 (autocast) with channels_last; the two small heads run in fp32,
  because a bf16 output has a spacing of 0.5 between 64 and 128 percent, which would dominate
  `log_error` for well-located patches;
- everything (volume, centre list, outputs) stays on the device, so the only host/device
  traffic is one upload of the volume and one download of the maps: there is no per-batch
  transfer to overlap, and pinned memory would not change anything.

Modules: `engine` (device and precision, `PatchSource`, `forward`, `score_terms`, the batched loop)
and `maps` (`HeatmapResult`, `evaluation_region`, `score_volume`, `predict_at`,
`reference_score_volume`).
"""

from __future__ import annotations

from patch2loc.methods.patch2loc.heatmap.engine import (
    AMP_CHOICES,
    EPS,
    PatchSource,
    cpu_supports_bf16,
    forward,
    resolve_amp,
    score_terms,
)
from patch2loc.methods.patch2loc.heatmap.maps import (
    REGIONS,
    HeatmapResult,
    evaluation_region,
    predict_at,
    reference_score_volume,
    score_volume,
)

__all__ = [
    "AMP_CHOICES",
    "EPS",
    "REGIONS",
    "HeatmapResult",
    "PatchSource",
    "cpu_supports_bf16",
    "evaluation_region",
    "forward",
    "predict_at",
    "reference_score_volume",
    "resolve_amp",
    "score_terms",
    "score_volume",
]
