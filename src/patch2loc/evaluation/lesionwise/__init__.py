"""Lesion-wise evaluation at the unsupervised threshold: the metrics the lesion sets' own
challenges rank by, for every method and volume (Table 3), by lesion size and lesion load.

The rules (docs/evaluation.md has the details and the reasons):
- the prediction is "score >= the unsupervised threshold" (the 98th percentile of in-brain scores
  on the healthy IXI test volumes), inside the brain mask like every other metric (region brain);
- ground-truth lesions are 3D connected components of the lesion mask (`evaluate.lesionwise.
  connectivity`: 26 = faces, edges and corners, the WMH challenge's "fully connected"); those
  smaller than `min_size_voxels` are not counted as lesions (their voxels still count in Dice,
  HD95 and volume);
- detection, as the WMH challenge (Kuijf et al. 2019, IEEE TMI 38(11):2556-2568, and its
  evaluation.py): a lesion is found when at least one predicted voxel lies in it; a predicted
  component is a false positive when it touches no lesion voxel; lesion-wise recall = found /
  lesions, precision = components touching a lesion / components, F1 their harmonic mean;
- HD95: the larger of the two directed 95th percentiles of distances between boundary voxels, in
  mm (MONAI's compute_hausdorff_distance, computed with scipy); AVD: |predicted volume - lesion
  volume| / lesion volume, in percent (the challenge's AVD).

Modules: `volume` (one volume's metrics and its lesions, at scoring time), `tables` (Table 3,
recall by lesion size, AUPRC by lesion-load tertile), `figures` (recall against lesion size).
"""
