"""Bercea et al.'s evaluation of PHANES, as their code runs it (ci-ber/PHANES@c8995ed
projects/phanes/DownstreamEvaluator.py l. 270-407; docs/protocols.md, docs/phanes.md).

- the brain mask is kept, not reproduced: the reference's map covers the whole 128 x 128 slice
  (model_zoo/phanes.py l. 299-312, no masking of the map); here the raw map is 0 outside the brain
  mask (score.py), as the shared protocol needs it, and `mask_first` zeroes it there again. The
  metrics count every voxel of the volume (`region`), as the reference counts the whole slice; no
  erosion;
- no median filter and no component filter: the map is used as it is;
- AUPRC ('Total AUPRC'): sklearn's average precision over the pooled pixels of the test slices that
  hold more than one lesion pixel (DownstreamEvaluator.py l. 317-356, 396-407; optim/metrics/auprc.py
  l. 3-8); pooled here over every slice of the set, the slice selection is listed as not reproduced;
- no Dice is computed: the exact best Dice per volume stands in.
"""

from patch2loc.scoring.protocol import unfiltered

BERCEA = unfiltered(
    source="Bercea et al. 2023 (ci-ber/PHANES)",
    auprc="pooled",
    not_reproduced=(
        "no brain mask (model_zoo/phanes.py l. 299-312); here the map is 0 outside the brain mask",
        "AUPRC pooled over the slices holding more than one lesion pixel only (DownstreamEvaluator.py l. 322)",
        "no Dice in the reference; here the best Dice per volume",
        "ATLAS / fastMRI PNG slices divided by 255, zero-padded to a square and resized to 128 x 128",
    ),
)
