"""Kascenas et al.'s evaluation of the DAE, as their code runs it (AntanasKascenas/DenoisingAE at 8e5a9df;
docs/protocols.md).

- erosion: the foreground mask (channel sum > 0.01) eroded by a 5 x 5 average pool (zero padded) > 0.95,
  src/denoising.py L46-49; the residual is masked before the median (L53)
- median: 2D, 5 x 5 within each slice (median_pool, L54-55)
- AUPRC: sklearn's average precision over the pooled pixels of every slice of the set, whole 128 x 128
  slices, scores in half precision, src/evaluate.py L23-24, L41-46
- Dice: the best pooled Dice of "score > t" over t = k / 1000, k = 0..999 (L49-54), then 3D components of
  <= 20 voxels (26-connected) removed per patient (src/cc_filter.py L45-49; evaluate.py L72-74) and the
  pooled Dice recomputed at that threshold (L85). Here per volume, over [0, the volume's maximum).
"""

from patch2loc.scoring.protocol import reference

KASCENAS = reference(
    source="Kascenas et al. 2022 (AntanasKascenas/DenoisingAE)",
    erosion="avgpool",
    median_size=5,
    median_dims=2,
    auprc="pooled",
    dice="grid",
    dice_thresholds=1000,
    dice_pooled=True,
    component_max=20,
    connectivity=26,
    not_reproduced=(
        "each modality divided by its 99th in-brain percentile (src/data_preprocessing.py L12-19)",
        "slices resampled to 128 x 128, about 1.875 mm (src/data_preprocessing.py L45-46)",
    ),
)
