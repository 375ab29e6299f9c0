"""Baur et al.'s evaluation of the AE and VAE, as their code runs it
(StefanDenn3r/Unsupervised_Anomaly_Detection_Brain_MRI at 3e413c0, utils/Evaluation.py; docs/protocols.md).

- erosion: each slice's brain mask, binary erosion with the 4-connected cross, 12 iterations, applied to
  the residual before the median (L84-88, L286). Their slices are zoomed to 128 x 128 pixels before it
  (`sliceResolution`, L228-229; `outputWidth=128`, mains/main_AE.py L11), so 12 pixels of a 240 mm slice
  (the SRI24 atlas space of their paper; the repository does not name it) are 22.5 mm: here 22.5 mm in voxels
  of the scored grid (8 on the demo's 3 mm, 22 on the paper's 1 mm), not 12 voxels whatever their size.
- median: 3D, side 5 (L108-109, L311-312)
- AUPRC: one curve over the pooled voxels of every test volume, whole slices (L427-431)
- Dice: the best pooled Dice over thresholds (recursive search, granularity 10, L444-449) on the test set
  itself ('bestdice', L453-454), then components of <= 7 voxels (26-connected) removed (L113-125, L458),
  Dice pooled (L461) and per patient (L468). Here: the exact best threshold per volume, then the filter.
"""

from patch2loc.scoring.protocol import reference

BAUR = reference(
    source="Baur et al. 2021 (StefanDenn3r/Unsupervised_Anomaly_Detection_Brain_MRI)",
    erosion="slices",
    erosion_iterations=12,  # pixels of their 128 x 128 slice; in mm below, for the scored grid
    erosion_mm=12 * 240 / 128,  # 22.5 mm: their SRI24-aligned 240 mm slice zoomed to 128 pixels
    median_size=5,
    median_dims=3,
    auprc="pooled",
    dice="oracle",
    dice_pooled=True,
    component_max=7,
    connectivity=26,
    not_reproduced=("their slice resampling and intensity scaling of the inputs (data loaders, not compared here)",),
)
