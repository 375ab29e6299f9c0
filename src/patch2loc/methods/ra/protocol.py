"""Bercea et al.'s evaluation of RA, as their code runs it (ci-ber/RA@9b7a255
projects/23_ra_midl/DownstreamEvaluator.py; docs/protocols.md, docs/ra.md).

- the brain mask is kept, not reproduced: the reference's map covers the whole 128 x 128 slice
  (l. 364-373); here the raw map is 0 outside the brain mask (score.py), as the shared protocol
  needs it, and `mask_first` zeroes it there again. The metrics count every voxel of the volume
  (`region`), as the reference counts the whole slice; no erosion;
- no median filter and no component filter: the map is thresholded as it is (l. 399-400);
- the metrics are not voxel-wise: each annotated box counts as detected when more than 10 % of its
  pixels score above th = 0.009 (l. 54, 399-414), false positives are the ratio of the above-threshold
  score outside the boxes to that inside (l. 416). Neither AUPRC nor Dice is computed; the closest
  voxel-wise reading (whole slices, the map as it is, AUPRC and the best Dice per volume) is used
  here, and the box counts are listed as not reproduced.
"""

from patch2loc.scoring.protocol import unfiltered

BERCEA = unfiltered(
    source="Bercea et al. 2023 (ci-ber/RA)",
    not_reproduced=(
        "no brain mask (DownstreamEvaluator.py l. 364-373); here the map is 0 outside the brain mask",
        "box-level detection at the fixed threshold 0.009 (TP if > 10 % of a box's pixels exceed it; FP as a score ratio)",
        "fastMRI / IXI PNG slices divided by 255, zero-padded to a square and resized to 128 x 128 (fastmri_loader.py)",
    ),
)
